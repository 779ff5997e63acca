import { FIELDS, recordIdOf, type FlowRecord } from '@flowlogs/contracts';

const OK_RECORD: Omit<FlowRecord, 'recordId'> = {
  version: 2,
  accountId: '123456789012',
  interfaceId: 'eni-1',
  srcaddr: '10.0.0.1',
  dstaddr: '10.0.0.2',
  srcport: 50_000,
  dstport: 443,
  protocol: 6,
  packets: 3,
  bytes: 180,
  start: 1_700_000_005,
  end: 1_700_000_008,
  action: 'ACCEPT',
  logStatus: 'OK',
  vpcId: 'vpc-1',
  subnetId: 'subnet-1',
  tcpFlags: 2,
  type: 'IPv4',
  flowDirection: 'egress',
  pktSrcaddr: '10.0.0.1',
  pktDstaddr: '10.0.0.2',
  windowStart: 1_700_000_000,
  windowEnd: 1_700_000_060,
  flowLogId: 'fl-1',
  logTopicId: 'lt-1',
  skippedPackets: null,
};

/**
 * A valid flow record for tests: an OK TCP record unless `over` says otherwise, with its recordId made
 * from its fields (unless given). A NODATA or SKIPDATA one has the fields the field table drops on them null.
 * pkt-srcaddr and pkt-dstaddr are srcaddr and dstaddr (an untunnelled flow) unless given.
 */
export function makeRecord(over: Partial<FlowRecord> = {}): FlowRecord {
  const r = { ...OK_RECORD, ...over };
  if (!('pktSrcaddr' in over)) r.pktSrcaddr = r.srcaddr;
  if (!('pktDstaddr' in over)) r.pktDstaddr = r.dstaddr;
  if (r.logStatus !== 'OK') {
    for (const f of FIELDS) if (f.absent === 'null' && !(f.key in over)) (r as Record<string, unknown>)[f.key] = null;
  }
  return { ...r, recordId: over.recordId ?? recordIdOf(r) };
}
