import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../src/cursor.js';
import { HttpError, validate } from '../src/errors.js';
import { recordPage, recordSearchSql, resolveRange, SearchQuery, type RecordSearch } from '../src/search.js';

describe('SearchQuery', () => {
  it('coerces the query string and defaults the limit', () => {
    expect(validate(SearchQuery, { from: '100', to: '200', q: '10.0.0.1' })).toEqual({ from: 100, to: 200, q: '10.0.0.1', limit: 100 });
    const cursor = { windowStart: 600, recordId: 'r1' };
    expect(validate(SearchQuery, { cursor: encodeCursor(cursor), limit: '1000' })).toEqual({ cursor, limit: 1000 });
  });

  it('names each bad parameter', () => {
    const error = (() => {
      try {
        validate(SearchQuery, { from: 'yesterday', q: 'srcaddr=10.0.0.1', limit: '1001', cursor: 'xyz', size: '1' }, 'query');
      } catch (err) {
        return err as HttpError;
      }
    })();
    expect(error?.statusCode).toBe(400);
    expect(error?.issues?.map((i) => i.path).sort()).toEqual(['cursor', 'from', 'limit', 'q', 'query']);
    expect(error?.message).toContain('q: only a bare IPv4 or IPv6 address');
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

describe('recordSearchSql', () => {
  const base: RecordSearch = { logTopicId: 'topic-1', accountId: '123456789012', from: 1000, to: 2000, ip: undefined, limit: 10, after: undefined };

  it('selects overlapping windows, bounded for partition pruning, all values as parameters', () => {
    const { text, values } = recordSearchSql(base);
    expect(text).toContain('window_start < $3 AND window_end > $4 AND window_start >= $4::bigint - 600');
    expect(text).toMatch(/ORDER BY window_start, record_id LIMIT \$5$/);
    expect(values).toEqual(['topic-1', '123456789012', 2000, 1000, 11]);
  });

  it('adds the address and the cursor as parameters', () => {
    const { text, values } = recordSearchSql({ ...base, ip: '2001:db8::1', after: { windowStart: 1200, recordId: "r'1" } });
    expect(text).toContain('(srcaddr = $5::inet OR dstaddr = $5::inet)');
    expect(text).toContain('(window_start, record_id) > ($6, $7)');
    expect(text).not.toContain("r'1");
    expect(values).toEqual(['topic-1', '123456789012', 2000, 1000, '2001:db8::1', 1200, "r'1", 11]);
  });
});

describe('recordPage', () => {
  const rows = [1, 2, 3].map((i) => ({ record: { recordId: `r${i}` }, window_start: 600 * i, record_id: `r${i}` }));

  it('points after the last record when more follow', () => {
    const page = recordPage(rows, 2);
    expect(page.records).toEqual([{ recordId: 'r1' }, { recordId: 'r2' }]);
    expect(page.nextCursor).toBe(encodeCursor({ windowStart: 1200, recordId: 'r2' }));
  });

  it('has no cursor on the last page', () => {
    expect(recordPage(rows, 3).nextCursor).toBeNull();
    expect(recordPage([], 3)).toEqual({ records: [], nextCursor: null });
  });
});
