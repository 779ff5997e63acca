-- Protocol and action top-Ns are summed from the series now (libs/db/src/rollup.ts LEVEL_KEYS): their
-- rows in the daily and slot levels are read by nothing. Their partitions stay: a publisher not
-- upgraded yet still folds into them until it is.
DELETE FROM flow_rollup_daily WHERE dimension IN ('protocol', 'action');
DELETE FROM flow_rollup_slot WHERE dimension IN ('protocol', 'action');
DELETE FROM flow_rollup_slot_rest WHERE dimension IN ('protocol', 'action');
