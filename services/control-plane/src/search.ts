/** Record search: the query string, the SQL it becomes, and the page it answers. No I/O here. */
import { z } from 'zod';
import { AGGREGATION_INTERVALS } from '@flowlogs/contracts';
import { invalid } from './errors.js';
import { decodeCursor, encodeCursor, type Cursor } from './cursor.js';
import { parseIp } from './ip.js';
import type { Sql } from './resources.js';

/** The longest aggregation window: a record overlapping `from` starts at most this long before it. */
const LONGEST_WINDOW = Math.max(...AGGREGATION_INTERVALS);
const DEFAULT_SPAN = 3600;

const UnixSeconds = z.coerce.number().int().nonnegative();

export const SearchQuery = z.strictObject({
  from: UnixSeconds.optional(),
  to: UnixSeconds.optional(),
  q: z.string().refine((s) => parseIp(s) !== undefined, 'only a bare IPv4 or IPv6 address (matched as source or destination) is supported for now').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().transform((s, ctx) => {
    const cursor = decodeCursor(s);
    if (!cursor) ctx.addIssue({ code: 'custom', message: 'not a cursor this API returned' });
    return cursor ?? z.NEVER;
  }).optional(),
});
export type SearchQuery = z.infer<typeof SearchQuery>;

export interface RecordSearch {
  logTopicId: string;
  accountId: string;
  from: number;
  to: number;
  ip: string | undefined;
  limit: number;
  after: Cursor | undefined;
}

/** The time range defaults to the hour before `now` (or before `to`); an empty or reversed range is a 400. */
export function resolveRange(query: Pick<SearchQuery, 'from' | 'to'>, now: number): { from: number; to: number } {
  const to = query.to ?? now;
  const from = query.from ?? Math.max(0, to - DEFAULT_SPAN);
  if (from >= to) throw invalid([{ path: 'from', message: `must be before to (${from} >= ${to})` }]);
  return { from, to };
}

/**
 * Records whose window overlaps [from, to), in (window_start, record_id) order, one more than the page
 * so the caller knows whether there is a next one. The lower bound on window_start is implied by the
 * overlap; stated explicitly it lets Postgres prune the daily partitions.
 */
export function recordSearchSql(s: RecordSearch): Sql {
  const values: unknown[] = [s.logTopicId, s.accountId, s.to, s.from];
  const param = (v: unknown) => `$${values.push(v)}`;
  const conditions = ['log_topic_id = $1', 'account_id = $2', 'window_start < $3', 'window_end > $4', `window_start >= $4::bigint - ${LONGEST_WINDOW}`];
  if (s.ip !== undefined) {
    const ip = param(s.ip);
    conditions.push(`(srcaddr = ${ip}::inet OR dstaddr = ${ip}::inet)`);
  }
  if (s.after) conditions.push(`(window_start, record_id) > (${param(s.after.windowStart)}, ${param(s.after.recordId)})`);
  return {
    text: `SELECT record, window_start, record_id FROM flow_records WHERE ${conditions.join(' AND ')} ORDER BY window_start, record_id LIMIT ${param(s.limit + 1)}`,
    values,
  };
}

export interface RecordRow {
  record: unknown;
  window_start: number;
  record_id: string;
}

/** A page of at most `limit` records; the cursor points after its last one when more follow. */
export function recordPage(rows: RecordRow[], limit: number): { records: unknown[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    records: page.map((r) => r.record),
    nextCursor: rows.length > limit && last ? encodeCursor({ windowStart: last.window_start, recordId: last.record_id }) : null,
  };
}
