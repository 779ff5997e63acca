import { describe, expect, it } from 'vitest';
import { makeRecord } from '@flowlogs/testkit';
import { ROLLUP_SOURCE_COLUMNS } from '@flowlogs/db';
import {
  COPY_CHUNK_RECORDS,
  COPY_PENDING,
  COPY_STAGING,
  INSERT_STAGED,
  copyText,
  pendingCopyText,
} from '../src/rows.js';

const record = makeRecord({
  accountId: 'a',
  interfaceId: 'eni-a',
  srcport: 1,
  dstport: 2,
  packets: 3,
  bytes: 120,
  start: 10,
  end: 12,
  windowStart: 0,
  windowEnd: 60,
  recordId: 'r1',
});

describe('copyText', () => {
  it('writes a line a record, its columns in COPY_STAGING order, NULL as \\N', () => {
    const lines = copyText([record, { ...record, recordId: 'r2', srcaddr: null }])
      .join('')
      .split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    const columns = /\(([^)]*)\)/.exec(COPY_STAGING)![1].split(',');
    const first = lines[0].split('\t');
    expect(first).toHaveLength(columns.length);
    expect(Object.fromEntries(columns.map((c, i) => [c, first[i]]))).toMatchObject({
      record_id: 'r1',
      window_start: '0',
      srcaddr: '10.0.0.1',
      log_status: 'OK',
    });
    expect(lines[1].split('\t')[columns.indexOf('srcaddr')]).toBe('\\N');
  });

  it('splits a batch into chunks of COPY_CHUNK_RECORDS whole lines, in order', () => {
    const batch = Array.from({ length: 2 * COPY_CHUNK_RECORDS + 1 }, (_, i) => ({ ...record, recordId: `r${i}` }));
    const chunks = copyText(batch);
    expect(chunks.map((c) => c.split('\n').length - 1)).toEqual([COPY_CHUNK_RECORDS, COPY_CHUNK_RECORDS, 1]);
    expect(chunks.every((c) => c.endsWith('\n'))).toBe(true);
    expect(
      chunks
        .join('')
        .split('\n')
        .slice(0, -1)
        .map((line) => line.split('\t')[0]),
    ).toEqual(batch.map((r) => r.recordId));
    const nodata = makeRecord({ logStatus: 'NODATA', recordId: 'n' });
    const pending = pendingCopyText(batch.flatMap((r) => [nodata, r]));
    expect(pending.map((c) => c.split('\n').length - 1)).toEqual([COPY_CHUNK_RECORDS, COPY_CHUNK_RECORDS, 1]);
  });

  it('escapes backslash, tab, newline and carriage return so a value stays one field', () => {
    const odd = { ...record, interfaceId: 'eni-\t\\x\n"y\r' };
    const [line] = copyText([odd]).join('').split('\n');
    expect(line.split('\t')[/\(([^)]*)\)/.exec(COPY_STAGING)![1].split(',').indexOf('interface_id')]).toBe(
      'eni-\\t\\\\x\\n"y\\r',
    );
  });
});

describe('pendingCopyText', () => {
  it("writes the OK records' rollup columns in COPY_PENDING order, and nothing for NODATA or SKIPDATA", () => {
    const nodata = makeRecord({ logStatus: 'NODATA', recordId: 'r3' });
    const skipdata = makeRecord({ logStatus: 'SKIPDATA', skippedPackets: 4, recordId: 'r4' });
    const lines = pendingCopyText([nodata, record, skipdata]).join('').split('\n');
    expect(lines).toEqual([expect.any(String), '']);
    expect(/\(([^)]*)\)/.exec(COPY_PENDING)![1].split(',')).toEqual(ROLLUP_SOURCE_COLUMNS);
    expect(Object.fromEntries(ROLLUP_SOURCE_COLUMNS.map((c, i) => [c, lines[0].split('\t')[i]]))).toEqual({
      log_topic_id: record.logTopicId,
      account_id: 'a',
      window_start: '0',
      window_end: '60',
      log_status: 'OK',
      bytes: '120',
      packets: '3',
      srcaddr: record.srcaddr,
      dstaddr: record.dstaddr,
      srcport: '1',
      dstport: '2',
      protocol: String(record.protocol),
      interface_id: 'eni-a',
      action: 'ACCEPT',
    });
    expect(pendingCopyText([nodata, skipdata])).toEqual([]);
  });
});

describe('INSERT_STAGED', () => {
  it("inserts idempotently on the record id, adds to the rollup's pending rows only what it inserted, and answers how many that was", () => {
    expect(INSERT_STAGED).toMatch(
      /^WITH inserted AS \(INSERT INTO flow_records .* FROM flow_records_staging ON CONFLICT \(record_id, window_start\) DO NOTHING RETURNING log_topic_id, account_id, window_start, .*\), pending AS \(INSERT INTO flow_rollup_pending /s,
    );
    expect(INSERT_STAGED).toContain("FROM inserted WHERE log_status = 'OK'");
    expect(INSERT_STAGED).toMatch(/SELECT count\(\*\)::int AS inserted FROM inserted$/);
  });
});
