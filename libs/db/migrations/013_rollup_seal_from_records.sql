-- A slot not sealed yet keeps no keys in flow_rollup_slot any more: the fold only notes that records
-- came to it (flow_rollup_slot_rest.touched_at), its seal reads its records (libs/db/src/rollup.ts),
-- and readers take it from the records until then. The open slots' rows folded before go; running
-- again finds none.
DELETE FROM flow_rollup_slot k USING flow_rollup_slot_rest r
WHERE NOT r.sealed AND k.log_topic_id = r.log_topic_id AND k.account_id = r.account_id AND k.dimension = r.dimension
  AND k.slot = r.slot;
