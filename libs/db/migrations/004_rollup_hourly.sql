-- Hourly totals of OK records per log topic and key: analysis/top reads them for the whole hours of a
-- range instead of the records. Whatever inserts records adds them here in the same statement, from
-- the rows actually inserted (libs/db/src/rollup.ts); retention deletes them with their records.
CREATE TABLE flow_rollup_hourly (
  log_topic_id  text NOT NULL,
  account_id    text NOT NULL,
  dimension     text NOT NULL,    -- analysis/top's `by`: srcaddr, dstaddr, srcport, dstport, protocol, interfaceId, action
  hour          bigint NOT NULL,  -- unix seconds: window_start rounded down to the hour
  key           text,             -- the key as text (addresses as host()); NULL for records without one
  bytes         bigint NOT NULL,
  packets       bigint NOT NULL,
  flows         bigint NOT NULL,  -- records
  -- In the order of the top query's access: one log topic (of one account), one dimension, a range of hours.
  CONSTRAINT flow_rollup_hourly_key UNIQUE NULLS NOT DISTINCT (log_topic_id, account_id, dimension, hour, key)
) PARTITION BY LIST (dimension);
-- One partition a dimension: a query reads one, where rows lie in the order their hours came in.
CREATE TABLE flow_rollup_hourly_srcaddr PARTITION OF flow_rollup_hourly FOR VALUES IN ('srcaddr');
CREATE TABLE flow_rollup_hourly_dstaddr PARTITION OF flow_rollup_hourly FOR VALUES IN ('dstaddr');
CREATE TABLE flow_rollup_hourly_srcport PARTITION OF flow_rollup_hourly FOR VALUES IN ('srcport');
CREATE TABLE flow_rollup_hourly_dstport PARTITION OF flow_rollup_hourly FOR VALUES IN ('dstport');
CREATE TABLE flow_rollup_hourly_protocol PARTITION OF flow_rollup_hourly FOR VALUES IN ('protocol');
CREATE TABLE flow_rollup_hourly_interface_id PARTITION OF flow_rollup_hourly FOR VALUES IN ('interfaceId');
CREATE TABLE flow_rollup_hourly_action PARTITION OF flow_rollup_hourly FOR VALUES IN ('action');

-- The records stored before this migration, in key order (so each log topic's hours lie together). A
-- copy of rollup.ts's statement as it is now: a migration must go on doing what it did when written.
SET LOCAL work_mem = '256MB';
INSERT INTO flow_rollup_hourly (log_topic_id, account_id, dimension, hour, key, bytes, packets, flows)
SELECT log_topic_id, account_id, d.dimension, window_start - window_start % 3600, d.key, coalesce(sum(bytes), 0), coalesce(sum(packets), 0), count(*)
FROM flow_records CROSS JOIN LATERAL (VALUES ('srcaddr', host(srcaddr)::text), ('dstaddr', host(dstaddr)::text), ('srcport', srcport::text),
  ('dstport', dstport::text), ('protocol', protocol::text), ('interfaceId', interface_id::text), ('action', action::text)) AS d (dimension, key)
WHERE log_status = 'OK'
GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5;
