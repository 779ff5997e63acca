-- Every fold adds to the daily totals of the keys it saw: an UPDATE of ~1.5 rows a stored record. In
-- full pages each new row version went to another page, with a new entry in the key's index; room
-- left on each page lets the version stay there (a HOT update: no index entry), and the next
-- update prunes the old one. Applies to the pages written from now on.
ALTER TABLE flow_rollup_daily_srcaddr SET (fillfactor = 70);
ALTER TABLE flow_rollup_daily_dstaddr SET (fillfactor = 70);
ALTER TABLE flow_rollup_daily_srcport SET (fillfactor = 70);
ALTER TABLE flow_rollup_daily_dstport SET (fillfactor = 70);
ALTER TABLE flow_rollup_daily_protocol SET (fillfactor = 70);
ALTER TABLE flow_rollup_daily_interface_id SET (fillfactor = 70);
ALTER TABLE flow_rollup_daily_action SET (fillfactor = 70);
ALTER TABLE flow_rollup_series SET (fillfactor = 70);
