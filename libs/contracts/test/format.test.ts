import { describe, expect, it } from 'vitest';
import { formatText, recordIdOf, type FlowRecord } from '../src/index.js';

const base: Omit<FlowRecord, 'recordId'> = {
  version: 2, accountId: '100000000001', interfaceId: 'eni-aaaa1111', srcaddr: '10.16.0.22', dstaddr: '10.16.0.40',
  srcport: 0, dstport: 0, protocol: 1, packets: 9, bytes: 756, start: 1700000001, end: 1700000009, action: 'ACCEPT',
  logStatus: 'OK', vpcId: 'vpc-1', subnetId: 'subnet-1', tcpFlags: null, type: 'IPv4', flowDirection: 'egress',
  windowStart: 1700000000, windowEnd: 1700000060, flowLogId: 'fl-1', logTopicId: 'topic-1', skippedPackets: null,
};

describe('text format', () => {
  it('prints the default fields in order', () => {
    expect(formatText({ ...base, recordId: 'x' })).toBe('2 100000000001 eni-aaaa1111 10.16.0.22 10.16.0.40 0 0 1 9 756 1700000001 1700000009 ACCEPT OK');
  });
  it('prints - for absent values (NODATA)', () => {
    const nodata = { ...base, srcaddr: null, dstaddr: null, srcport: null, dstport: null, protocol: null, packets: null, bytes: null, start: null, end: null, action: null, logStatus: 'NODATA' as const, recordId: 'y' };
    expect(formatText(nodata)).toBe('2 100000000001 eni-aaaa1111 - - - - - - - - - - NODATA');
  });
});

describe('recordId', () => {
  it('is stable for the same key and differs for another window or flow', () => {
    expect(recordIdOf(base)).toBe(recordIdOf({ ...base, packets: 1, bytes: 1 }));
    expect(recordIdOf(base)).not.toBe(recordIdOf({ ...base, windowStart: 1700000060 }));
    expect(recordIdOf(base)).not.toBe(recordIdOf({ ...base, dstport: 22 }));
    expect(recordIdOf(base)).toMatch(/^[0-9a-f]{32}$/);
  });
});
