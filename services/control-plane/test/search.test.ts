import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '@flowlogs/contracts';
import { type HttpError, validate } from '../src/errors.js';
import { parseQuery, SqlParams } from '../src/query/index.js';
import {
  decodeCursor,
  encodeCursor,
  exportChunks,
  recordCountSql,
  recordPage,
  recordSearch,
  recordSearchSql,
  scopeSql,
  resolveRange,
  SearchQuery,
  type RecordRow,
  type RecordSearch,
} from '../src/search.js';

const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err as HttpError;
  }
  return undefined;
};

describe('SearchQuery', () => {
  it('coerces the query string, parses q and defaults sort and limit', () => {
    expect(validate(SearchQuery, { from: '100', to: '200', q: '10.0.0.1' })).toEqual({
      from: 100,
      to: 200,
      q: parseQuery('10.0.0.1'),
      sort: 'start',
      limit: 100,
    });
    expect(validate(SearchQuery, { sort: '-bytes', limit: '1000', format: 'csv' })).toEqual({
      sort: '-bytes',
      limit: 1000,
      format: 'csv',
    });
  });

  it('names each bad parameter, q with its position', () => {
    const error = errorOf(() =>
      validate(
        SearchQuery,
        { from: 'yesterday', q: 'srcaddr:10.0.0.1 AND )', limit: '1001', sort: 'size', format: 'xml', size: '1' },
        'query',
      ),
    );
    expect(error?.statusCode).toBe(400);
    expect(error?.issues?.map((i) => i.path).sort()).toEqual(['format', 'from', 'limit', 'q', 'query', 'sort']);
    expect(error?.message).toContain('q: unexpected ")" at 21; expected a term');
  });
});

describe('resolveRange', () => {
  it('defaults to the hour before now, or before to', () => {
    expect(resolveRange({}, 10_000)).toEqual({ from: 6_400, to: 10_000 });
    expect(resolveRange({ to: 5_000 }, 10_000)).toEqual({ from: 1_400, to: 5_000 });
    expect(resolveRange({ from: 100 }, 10_000)).toEqual({ from: 100, to: 10_000 });
  });

  it('refuses an empty range', () => {
    expect(() => resolveRange({ from: 200, to: 200 }, 0)).toThrow(/from: must be before to/);
  });
});

describe('cursors', () => {
  it('round-trip with their sort, and are refused under another', () => {
    const cursor = { sort: '-bytes' as const, key: 1200, recordId: 'r1' };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    expect(decodeCursor('xyz')).toBeUndefined();
    const scope = { logTopicId: 't', accountId: 'a', from: 0, to: 1, where: undefined };
    expect(recordSearch(scope, { sort: '-bytes', limit: 5, cursor: encodeCursor(cursor) }).after).toEqual(cursor);
    expect(errorOf(() => recordSearch(scope, { sort: 'bytes', limit: 5, cursor: encodeCursor(cursor) }))?.message).toBe(
      'cursor: not a cursor this API returned for sort=bytes',
    );
    expect(errorOf(() => recordSearch(scope, { sort: 'start', limit: 5, cursor: 'xyz' }))?.statusCode).toBe(400);
  });
});

describe('recordSearchSql', () => {
  const base: RecordSearch = {
    logTopicId: 'topic-1',
    accountId: '123456789012',
    from: 1000,
    to: 2000,
    where: undefined,
    sort: 'start',
    limit: 10,
    after: undefined,
  };

  it('selects overlapping windows of the account and topic, bounded for partition pruning, all values as parameters', () => {
    const { text, values } = recordSearchSql(base);
    expect(text).toContain(
      'log_topic_id = $2 AND account_id = $3 AND window_start < $4 AND window_end > $1 AND window_start >= $1::bigint - 600',
    );
    // The start of a record lies in its window: bounds for the start index.
    expect(text).toContain(
      'AND coalesce(start_time, window_start) >= $1::bigint - 600 AND coalesce(start_time, window_start) < $5::bigint ORDER BY',
    );
    expect(text).toMatch(/ORDER BY coalesce\(start_time, window_start\), record_id LIMIT \$6$/);
    expect(values).toEqual([1000, 'topic-1', '123456789012', 2000, 2600, 11]);
  });

  it('adds the query, then the keyset of the sort, as parameters', () => {
    const { text, values } = recordSearchSql({
      ...base,
      where: parseQuery('dstport:443 OR protocol:17'),
      sort: '-bytes',
      after: { sort: '-bytes', key: 1200, recordId: "r'1" },
    });
    expect(text).toContain(
      'window_start >= $1::bigint - 600 AND (dstport = $5 OR protocol = $6) AND (coalesce(bytes, 0), record_id) < ($7, $8)',
    );
    expect(text).toMatch(/ORDER BY coalesce\(bytes, 0\) DESC, record_id DESC LIMIT \$9$/);
    expect(text).not.toContain("r'1");
    expect(values).toEqual([1000, 'topic-1', '123456789012', 2000, 443, 17, 1200, "r'1", 11]);
    expect(
      recordSearchSql({ ...base, sort: 'packets', after: { sort: 'packets', key: 3, recordId: 'r' } }).text,
    ).toContain('(coalesce(packets, 0), record_id) > ($5, $6)');
  });

  it('bounds the start whenever the query reads an address, by the OK windows when every match has one', () => {
    const start = 'coalesce(start_time, window_start)';
    const windows = (from: string, topic: string, account: string) => {
      const overlapping = `log_topic_id = ${topic} AND account_id = ${account} AND window_start >= ${from}::bigint - 600 AND window_start < ${from} AND window_end > ${from}`;
      return `coalesce((SELECT min(window_start) FROM (SELECT window_start FROM flow_rollup_series WHERE ${overlapping} UNION ALL SELECT window_start FROM flow_rollup_pending WHERE ${overlapping}) AS w), ${from}::bigint)`;
    };
    const cases = {
      // A record without addresses (NODATA, SKIPDATA) may match: any window up to the longest.
      'dstport:443 OR 2001:db8::1': `${start} >= $1::bigint - 600 AND ${start} < $5::bigint AND (`,
      'NOT dstaddr:10.0.0.1': `${start} >= $1::bigint - 600 AND ${start} < $5::bigint AND NOT`,
      // Only OK records match: the earliest of their windows overlapping from.
      '10.0.0.0/8': `${start} >= ${windows('$1', '$2', '$3')} AND ${start} < $5::bigint AND (srcaddr <<= $6::inet`,
      'srcaddr:10.0.0.1 AND (dstport:443 OR dstaddr:10.0.0.2)': `${start} >= ${windows('$1', '$2', '$3')} AND ${start} < $5::bigint AND (srcaddr = $6::inet`,
    };
    for (const [q, bounds] of Object.entries(cases)) {
      const { text, values } = recordSearchSql({ ...base, where: parseQuery(q), sort: '-bytes' });
      expect(text, q).toContain(`window_start >= $1::bigint - 600 AND ${bounds}`);
      expect(values[4], q).toBe(2600);
    }
    expect(recordSearchSql({ ...base, where: parseQuery('dstport:443'), sort: '-bytes' }).text).not.toContain(start);
  });

  it('bounds an analysis of an address by constants only: a bound unknown when planning cost it its parallel scan', () => {
    const text = scopeSql({ ...base, where: parseQuery('10.0.0.0/8') }, new SqlParams());
    expect(text).toContain(
      'coalesce(start_time, window_start) >= $1::bigint - 600 AND coalesce(start_time, window_start) < $5::bigint',
    );
    expect(text).not.toContain('flow_rollup_series');
  });

  it('searches a bare address as a source branch and a destination branch, each ordered and limited', () => {
    const { text, values } = recordSearchSql({
      ...base,
      where: parseQuery('2001:db8::1'),
      sort: '-bytes',
      after: { sort: '-bytes', key: 1200, recordId: 'r1' },
    });
    const branch = 'ORDER BY coalesce(bytes, 0) DESC, record_id DESC LIMIT $8';
    expect(text).toContain(
      'AND coalesce(start_time, window_start) >= coalesce((SELECT min(window_start) FROM (SELECT window_start FROM flow_rollup_series WHERE log_topic_id = $2',
    );
    expect(text).toContain(
      `AND coalesce(start_time, window_start) < $5::bigint AND (coalesce(bytes, 0), record_id) < ($6, $7) AND srcaddr = $9::inet ${branch}) UNION ALL (`,
    );
    expect(text).toContain(
      `AND dstaddr = $9::inet AND srcaddr IS DISTINCT FROM $9::inet ${branch})) AS hits ORDER BY sort_key DESC, record_id DESC LIMIT $8`,
    );
    expect(values).toEqual([1000, 'topic-1', '123456789012', 2000, 2600, 1200, 'r1', 11, '2001:db8::1']);
  });

  it('counts up to a cap', () => {
    const { text, values } = recordCountSql(base, 100_001);
    expect(text).toMatch(/^SELECT count\(\*\) AS n FROM \(SELECT 1 FROM flow_records WHERE .* LIMIT \$5\) AS capped$/);
    expect(values.at(-1)).toBe(100_001);
  });
});

const row = (i: number, bytes = i): RecordRow => ({
  record: { recordId: `r${i}`, bytes } as FlowRecord,
  sort_key: bytes,
  record_id: `r${i}`,
});

describe('recordPage', () => {
  const rows = [1, 2, 3].map((i) => row(i, 100 * i));

  it('points after the last record when more follow, in the sort it was made for', () => {
    const page = recordPage(rows, { limit: 2, sort: 'bytes' });
    expect(page.records.map((r) => r.recordId)).toEqual(['r1', 'r2']);
    expect(decodeCursor(page.nextCursor!)).toEqual({ sort: 'bytes', key: 200, recordId: 'r2' });
  });

  it('has no cursor on the last page', () => {
    expect(recordPage(rows, { limit: 3, sort: 'start' }).nextCursor).toBeNull();
    expect(recordPage([], { limit: 3, sort: 'start' })).toEqual({ records: [], nextCursor: null });
  });
});

describe('exportChunks', () => {
  const all = Array.from({ length: 2500 }, (_, i) => row(i));
  const fetchPage = async (s: RecordSearch) =>
    all.filter((r) => !s.after || r.sort_key > s.after.key).slice(0, s.limit + 1);
  const search: RecordSearch = {
    logTopicId: 't',
    accountId: 'a',
    from: 0,
    to: 1,
    where: undefined,
    sort: 'bytes',
    limit: 100,
    after: undefined,
  };
  const lines = async (format: 'ndjson' | 'csv', cap?: number) => {
    let text = '';
    for await (const chunk of exportChunks(search, format, fetchPage, cap)) text += chunk;
    return text.trimEnd().split('\n');
  };

  it('pages along the cursor through the whole result, up to the cap', async () => {
    expect((await lines('ndjson')).map((l) => JSON.parse(l).recordId)).toEqual(all.map((r) => r.record_id));
    expect(await lines('ndjson', 1500)).toHaveLength(1500);
    const csv = await lines('csv', 2);
    expect(csv[0]).toMatch(/^version,account-id,interface-id,srcaddr,dstaddr,/);
    expect(csv).toHaveLength(3);
  });
});
