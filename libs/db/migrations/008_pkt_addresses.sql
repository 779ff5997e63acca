-- AWS's pkt-srcaddr and pkt-dstaddr: the innermost addresses of GRE and IP-in-IP packets (srcaddr and
-- dstaddr otherwise), searchable like them. Records stored before have none (NULL).
ALTER TABLE flow_records ADD COLUMN pkt_srcaddr inet, ADD COLUMN pkt_dstaddr inet;
