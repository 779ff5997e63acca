import { describe, expect, it } from 'vitest';
import { makeRecord } from '@flowlogs/testkit';
import { formatText, recordIdOf } from '../src/index.js';

const { recordId: _, ...base } = makeRecord({
  accountId: '100000000001',
  interfaceId: 'eni-aaaa1111',
  srcaddr: '10.16.0.22',
  dstaddr: '10.16.0.40',
  srcport: 0,
  dstport: 0,
  protocol: 1,
  packets: 9,
  bytes: 756,
  start: 1700000001,
  end: 1700000009,
  tcpFlags: null,
});

describe('text format', () => {
  it('prints the default fields in order', () => {
    expect(formatText({ ...base, recordId: 'x' })).toBe(
      '2 100000000001 eni-aaaa1111 10.16.0.22 10.16.0.40 0 0 1 9 756 1700000001 1700000009 ACCEPT OK',
    );
  });
  it('prints - for absent values (NODATA)', () => {
    const nodata = makeRecord({ accountId: '100000000001', interfaceId: 'eni-aaaa1111', logStatus: 'NODATA' });
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
