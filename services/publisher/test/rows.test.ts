import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '@flowlogs/contracts';
import { ROWS_PER_INSERT, insertStatement } from '../src/rows.js';

const record = { version: 2, accountId: 'a', interfaceId: 'eni-a', srcaddr: '10.0.0.1', dstaddr: '10.0.0.2', srcport: 1, dstport: 2, protocol: 6, packets: 3, bytes: 120, start: 10, end: 12, action: 'ACCEPT', logStatus: 'OK', vpcId: null, subnetId: null, tcpFlags: 2, type: 'IPv4', flowDirection: null, windowStart: 0, windowEnd: 60, flowLogId: 'fl', logTopicId: 't', skippedPackets: null, recordId: 'r1' } satisfies FlowRecord;

describe('insertStatement', () => {
  it('numbers parameters per row, is idempotent on the record id, and keeps the JSON as delivered', () => {
    const { text, values } = insertStatement([record, { ...record, recordId: 'r2' }]);
    expect(text).toMatch(/VALUES \(\$1,.*\$19\),\(\$20,.*\$38\) ON CONFLICT \(record_id, window_start\) DO NOTHING RETURNING /);
    expect(values).toHaveLength(38);
    expect(values[0]).toBe('r1');
    expect(values[19]).toBe('r2');
    expect(JSON.parse(values[18] as string)).toEqual(record);
  });

  it('adds to the rollup only what it inserted, and answers how many records that was', () => {
    const { text } = insertStatement([record]);
    expect(text).toMatch(/^WITH inserted AS \(INSERT INTO flow_records .* RETURNING log_topic_id, account_id, window_start, .*\), rolled_up AS \(INSERT INTO flow_rollup_hourly /s);
    expect(text).toContain('FROM inserted CROSS JOIN LATERAL');
    expect(text).toMatch(/SELECT count\(\*\)::int AS inserted FROM inserted$/);
  });

  it('stays under the 65535 parameters of one statement', () => {
    expect(ROWS_PER_INSERT * 19).toBeLessThanOrEqual(65535);
  });
});
