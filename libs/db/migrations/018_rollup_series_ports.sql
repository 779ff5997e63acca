-- The series per well-known source and destination port too (libs/db/src/rollup.ts
-- SERIES_PORT_BELOW: a port below 1024 as it is, any other as -1, none as NULL), so that a histogram,
-- the action totals and the top protocols and actions with a query on such a port (`dstport:443`)
-- read the series instead of every record of their range.

-- No fold runs meanwhile (ADVISORY_LOCKS.rollupFold).
SELECT pg_advisory_xact_lock(7115004);

ALTER TABLE flow_rollup_series DROP CONSTRAINT flow_rollup_series_key;
ALTER TABLE flow_rollup_series ADD COLUMN srcport integer, ADD COLUMN dstport integer;

-- The series again, per port, from what it holds: the OK records folded so far, which are the OK
-- records less the pending rows (a record and its pending row are committed together). Rollups go
-- with their records (retention), so the records are all there.
TRUNCATE flow_rollup_series;
INSERT INTO flow_rollup_series (log_topic_id, account_id, window_start, window_end, action, protocol, srcport, dstport, bytes, packets, flows)
SELECT log_topic_id, account_id, window_start, window_end, action, protocol,
  CASE WHEN srcport >= 1024 THEN -1 ELSE srcport END, CASE WHEN dstport >= 1024 THEN -1 ELSE dstport END,
  sum(bytes), sum(packets), sum(flows)
FROM (
  SELECT log_topic_id, account_id, window_start, window_end, action, protocol, srcport, dstport,
    coalesce(bytes, 0) AS bytes, coalesce(packets, 0) AS packets, 1 AS flows
  FROM flow_records WHERE log_status = 'OK'
  UNION ALL
  SELECT log_topic_id, account_id, window_start, window_end, action, protocol, srcport, dstport,
    -coalesce(bytes, 0), -coalesce(packets, 0), -1
  FROM flow_rollup_pending WHERE log_status = 'OK'
) AS r
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
HAVING sum(flows) <> 0;

ALTER TABLE flow_rollup_series ADD CONSTRAINT flow_rollup_series_key
  UNIQUE NULLS NOT DISTINCT (log_topic_id, account_id, window_start, window_end, action, protocol, srcport, dstport);
