-- The REJECT facet (libs/db/src/rollup.ts FACETS): the daily and slot levels keep the keys of the
-- REJECT records too, as dimensions `<key>:REJECT`, so that a top-N of refused traffic reads them
-- instead of every record of its range.
CREATE TABLE flow_rollup_daily_srcaddr_reject PARTITION OF flow_rollup_daily FOR VALUES IN ('srcaddr:REJECT') WITH (fillfactor = 70);
CREATE TABLE flow_rollup_daily_dstaddr_reject PARTITION OF flow_rollup_daily FOR VALUES IN ('dstaddr:REJECT') WITH (fillfactor = 70);
CREATE TABLE flow_rollup_daily_srcport_reject PARTITION OF flow_rollup_daily FOR VALUES IN ('srcport:REJECT') WITH (fillfactor = 70);
CREATE TABLE flow_rollup_daily_dstport_reject PARTITION OF flow_rollup_daily FOR VALUES IN ('dstport:REJECT') WITH (fillfactor = 70);
CREATE TABLE flow_rollup_daily_interface_id_reject PARTITION OF flow_rollup_daily FOR VALUES IN ('interfaceId:REJECT') WITH (fillfactor = 70);

-- No fold runs meanwhile (ADVISORY_LOCKS.rollupFold).
SELECT pg_advisory_xact_lock(7115004);

-- From when the levels hold a facet's keys: every slot after the last one sealed without them. The
-- slots open now are sealed with them (their facet rows below); readers take a facet from the
-- levels only for ranges whose days all lie from `since` on, else from the records.
CREATE TABLE flow_rollup_facets (
  facet  text PRIMARY KEY,
  since  bigint NOT NULL  -- unix seconds, a slot's start
);
INSERT INTO flow_rollup_facets (facet, since)
SELECT 'REJECT', coalesce(max(slot) + 600, 0) FROM flow_rollup_slot_rest WHERE sealed;

-- The open slots' notes for the facet's dimensions, as a fold that came to them now would make.
INSERT INTO flow_rollup_slot_rest (log_topic_id, account_id, dimension, slot, sealed, touched_at, bytes_max, packets_max, flows_max)
SELECT log_topic_id, account_id, dimension || ':REJECT', slot, false, touched_at, 0, 0, 0
FROM flow_rollup_slot_rest WHERE NOT sealed AND dimension IN ('srcaddr', 'dstaddr', 'srcport', 'dstport', 'interfaceId');
