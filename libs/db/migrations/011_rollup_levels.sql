-- The rollups at three levels (libs/db/src/rollup.ts) in place of the hourly one, whose grain barely
-- rolled anything up (10 M records of the query benchmark: 5.5 M rows, 1.2 GB; a day's top-10 read
-- 1 M of them). Fed from flow_rollup_pending as before; retention deletes them with their records.
-- Written to run again over what it made (IF NOT EXISTS): the rebuild below is then all it does.

DROP TABLE IF EXISTS flow_rollup_hourly;

-- Per window, action and protocol: histograms and action totals of any range, exact (a record counts
-- by its window), and filtered by action or protocol. About 1,440 windows a day × 6.
CREATE TABLE IF NOT EXISTS flow_rollup_series (
  log_topic_id  text NOT NULL,
  account_id    text NOT NULL,
  window_start  bigint NOT NULL,
  window_end    bigint NOT NULL,
  action        text,
  protocol      smallint,
  bytes         bigint NOT NULL,
  packets       bigint NOT NULL,
  flows         bigint NOT NULL,
  CONSTRAINT flow_rollup_series_key UNIQUE NULLS NOT DISTINCT (log_topic_id, account_id, window_start, window_end, action, protocol)
);

-- Every key of a UTC day: the whole days of a top-N.
CREATE TABLE IF NOT EXISTS flow_rollup_daily (
  log_topic_id  text NOT NULL,
  account_id    text NOT NULL,
  dimension     text NOT NULL,    -- analysis/top's `by`
  day           bigint NOT NULL,  -- unix seconds: window_start rounded down to the UTC day
  key           text,             -- as text (addresses as host()); NULL for records without one
  bytes         bigint NOT NULL,
  packets       bigint NOT NULL,
  flows         bigint NOT NULL,
  CONSTRAINT flow_rollup_daily_key UNIQUE NULLS NOT DISTINCT (log_topic_id, account_id, dimension, day, key)
) PARTITION BY LIST (dimension);
CREATE TABLE IF NOT EXISTS flow_rollup_daily_srcaddr PARTITION OF flow_rollup_daily FOR VALUES IN ('srcaddr');
CREATE TABLE IF NOT EXISTS flow_rollup_daily_dstaddr PARTITION OF flow_rollup_daily FOR VALUES IN ('dstaddr');
CREATE TABLE IF NOT EXISTS flow_rollup_daily_srcport PARTITION OF flow_rollup_daily FOR VALUES IN ('srcport');
CREATE TABLE IF NOT EXISTS flow_rollup_daily_dstport PARTITION OF flow_rollup_daily FOR VALUES IN ('dstport');
CREATE TABLE IF NOT EXISTS flow_rollup_daily_protocol PARTITION OF flow_rollup_daily FOR VALUES IN ('protocol');
CREATE TABLE IF NOT EXISTS flow_rollup_daily_interface_id PARTITION OF flow_rollup_daily FOR VALUES IN ('interfaceId');
CREATE TABLE IF NOT EXISTS flow_rollup_daily_action PARTITION OF flow_rollup_daily FOR VALUES IN ('action');

-- Per 10-minute slot: every key while the slot is open, the keys that can reach a top-N once sealed.
CREATE TABLE IF NOT EXISTS flow_rollup_slot (
  log_topic_id  text NOT NULL,
  account_id    text NOT NULL,
  dimension     text NOT NULL,
  slot          bigint NOT NULL,  -- unix seconds: window_start rounded down to 10 minutes
  key           text,
  bytes         bigint NOT NULL,
  packets       bigint NOT NULL,
  flows         bigint NOT NULL,
  CONSTRAINT flow_rollup_slot_key UNIQUE NULLS NOT DISTINCT (log_topic_id, account_id, dimension, slot, key)
);
-- One row per slot and dimension: whether it is sealed, when a record last came to it, and for a
-- sealed one the most (per metric) any key it does not keep has there.
CREATE TABLE IF NOT EXISTS flow_rollup_slot_rest (
  log_topic_id  text NOT NULL,
  account_id    text NOT NULL,
  dimension     text NOT NULL,
  slot          bigint NOT NULL,
  sealed        boolean NOT NULL,
  touched_at    bigint NOT NULL,  -- unix seconds
  bytes_max     bigint NOT NULL,
  packets_max   bigint NOT NULL,
  flows_max     bigint NOT NULL,
  PRIMARY KEY (log_topic_id, account_id, dimension, slot)
);

-- The fold reads the record's window end too (the series counts a window overlapping a range's start).
ALTER TABLE flow_rollup_pending ADD COLUMN IF NOT EXISTS window_end bigint;
-- Rebuilt from the records stored before: the pending rows (if any) are among them.
TRUNCATE flow_rollup_pending;
SET LOCAL work_mem = '256MB';
INSERT INTO flow_rollup_pending (log_topic_id, account_id, window_start, window_end, log_status, bytes, packets, srcaddr, dstaddr, srcport, dstport, protocol, interface_id, action)
SELECT log_topic_id, account_id, window_start, window_end, log_status, bytes, packets, srcaddr, dstaddr, srcport, dstport, protocol, interface_id, action
FROM flow_records WHERE log_status = 'OK';
