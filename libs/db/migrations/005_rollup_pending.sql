-- Records inserted but not yet added to flow_rollup_hourly. The publisher's insert appends the rollup
-- columns of the OK records it actually inserted here, in the same statement: a plain append, where an
-- upsert of the rollup rows made concurrent publishers wait on each other's row locks (the same
-- protocol, port and action keys in every batch). Every few seconds one publisher moves them into
-- flow_rollup_hourly, deleting and adding in one statement; analysis/top reads both tables, so its
-- answer never waits for that. Small: a few seconds of records.
CREATE TABLE flow_rollup_pending (
  log_topic_id  text NOT NULL,
  account_id    text NOT NULL,
  window_start  bigint NOT NULL,
  log_status    text NOT NULL,
  bytes         bigint,
  packets       bigint,
  srcaddr       inet,
  dstaddr       inet,
  srcport       integer,
  dstport       integer,
  protocol      smallint,
  interface_id  text,
  action        text
);
-- Every fold deletes what the inserts appended: vacuum it as soon as a few thousand rows are dead
-- (not at a fifth of the table), so analysis/top's scan of it stays short.
ALTER TABLE flow_rollup_pending SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0);
