-- The record json column repeated the columns: about 650 of a row's 870 bytes, and a third of the
-- insert's CPU. Every field now has a column of its own, and a record is rebuilt from its columns
-- (libs/contracts recordFromRow). Rows stored before take theirs from their json, in one rewrite of
-- each partition that also drops the json's bytes (an UPDATE would have left them, and dead rows).
ALTER TABLE flow_records
  ADD COLUMN version smallint NOT NULL DEFAULT 2,
  ADD COLUMN vpc_id text,
  ADD COLUMN subnet_id text,
  ADD COLUMN tcp_flags smallint,
  ADD COLUMN type text,
  ADD COLUMN flow_direction text,
  ADD COLUMN skipped_packets bigint;
ALTER TABLE flow_records
  ALTER COLUMN vpc_id TYPE text USING record->>'vpcId',
  ALTER COLUMN subnet_id TYPE text USING record->>'subnetId',
  ALTER COLUMN tcp_flags TYPE smallint USING (record->>'tcpFlags')::smallint,
  ALTER COLUMN type TYPE text USING record->>'type',
  ALTER COLUMN flow_direction TYPE text USING record->>'flowDirection',
  ALTER COLUMN skipped_packets TYPE bigint USING (record->>'skippedPackets')::bigint,
  DROP COLUMN record;
