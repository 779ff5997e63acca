-- A slot's keys join the daily totals when the slot is sealed, from the per-key sums the seal already
-- computes (libs/db/src/rollup.ts), instead of at every fold: a fold of a few seconds of records
-- upserted ~2 daily rows a record (each short flow brings its own ephemeral port), most of its time.
-- Late records, those of a sealed slot, are still added by the fold.

-- No fold runs meanwhile (ADVISORY_LOCKS.rollupFold).
SELECT pg_advisory_xact_lock(7115004);

-- The open slots' records that were folded are in the daily totals already (the version before added
-- them at every fold); their seal adds all of the slot's records: they leave the daily totals now.
-- Folded = the slot's OK records less those still pending (a pending row is its record's, not folded).
CREATE TEMP TABLE open_slots_folded ON COMMIT DROP AS
WITH open AS (SELECT log_topic_id, account_id, dimension, slot FROM flow_rollup_slot_rest WHERE NOT sealed),
span AS (SELECT min(slot) AS lo, max(slot) + 600 AS hi FROM open)
SELECT r.log_topic_id, r.account_id, d.dimension, r.window_start - r.window_start % 86400 AS day, d.key,
  sum(r.bytes) AS bytes, sum(r.packets) AS packets, sum(r.flows) AS flows
FROM (
  SELECT log_topic_id, account_id, window_start, srcaddr, dstaddr, srcport, dstport, interface_id,
    coalesce(bytes, 0) AS bytes, coalesce(packets, 0) AS packets, 1 AS flows
  FROM flow_records WHERE log_status = 'OK' AND window_start >= (SELECT lo FROM span) AND window_start < (SELECT hi FROM span)
  UNION ALL
  SELECT log_topic_id, account_id, window_start, srcaddr, dstaddr, srcport, dstport, interface_id,
    -coalesce(bytes, 0), -coalesce(packets, 0), -1
  FROM flow_rollup_pending WHERE log_status = 'OK'
) AS r
CROSS JOIN LATERAL (VALUES ('srcaddr', host(srcaddr)::text), ('dstaddr', host(dstaddr)::text), ('srcport', srcport::text),
  ('dstport', dstport::text), ('interfaceId', interface_id::text)) AS d (dimension, key)
JOIN open o ON o.log_topic_id = r.log_topic_id AND o.account_id = r.account_id AND o.dimension = d.dimension
  AND o.slot = r.window_start - r.window_start % 600
GROUP BY 1, 2, 3, 4, 5;

-- Keys and the null key apart: an equality joins on the daily totals' key, IS NOT DISTINCT FROM would not.
UPDATE flow_rollup_daily t SET bytes = t.bytes - f.bytes, packets = t.packets - f.packets, flows = t.flows - f.flows
FROM open_slots_folded f
WHERE t.log_topic_id = f.log_topic_id AND t.account_id = f.account_id AND t.dimension = f.dimension AND t.day = f.day
  AND t.key = f.key;
UPDATE flow_rollup_daily t SET bytes = t.bytes - f.bytes, packets = t.packets - f.packets, flows = t.flows - f.flows
FROM open_slots_folded f
WHERE t.log_topic_id = f.log_topic_id AND t.account_id = f.account_id AND t.dimension = f.dimension AND t.day = f.day
  AND t.key IS NULL AND f.key IS NULL;
DELETE FROM flow_rollup_daily WHERE flows = 0;

-- A publisher not upgraded yet would go on adding every fold's keys, which the seal then adds again:
-- every statement that writes the daily totals must say it adds them at the seal
-- (ROLLUP_WRITER_SQL), or it fails, and the old publisher's pending rows wait for the new one.
CREATE OR REPLACE FUNCTION flow_rollup_daily_writer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('flowlogs.rollup_writer', true) IS DISTINCT FROM 'daily-at-seal' THEN
    RAISE EXCEPTION 'flow_rollup_daily takes a slot''s keys when the slot is sealed (migration 016); this writer adds them at every fold and would count them twice: upgrade it'
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS flow_rollup_daily_writer ON flow_rollup_daily;
CREATE TRIGGER flow_rollup_daily_writer BEFORE INSERT OR UPDATE ON flow_rollup_daily
  FOR EACH STATEMENT EXECUTE FUNCTION flow_rollup_daily_writer();
