/**
 * Record search: the query string, the SQL it becomes, the page it answers, and the export formats.
 * No I/O here. Search, export, analysis and the tail all filter through the one query language.
 */
import { z } from 'zod';
import { AGGREGATION_INTERVALS, FIELD_KEYS, FlowRecord, RECORD_COLUMNS, formatText } from '@flowlogs/contracts';
import { invalid } from './errors.js';
import { parseQuery, QueryError, queryColumns, querySql, SqlParams, type Query } from './query/index.js';
import type { Sql } from './resources.js';

/** The longest aggregation window: a record overlapping `from` starts at most this long before it. */
const LONGEST_WINDOW = Math.max(...AGGREGATION_INTERVALS);
const DEFAULT_SPAN = 3600;
/** The record's start, the key of the start and address indexes (a record without one at its window's start). */
const START = 'coalesce(start_time, window_start)';
/** An export answers at most this many records (x-flowlogs-truncated: true when there were more). */
export const EXPORT_CAP = 100_000;
const EXPORT_PAGE = 1000;

const UnixSeconds = z.coerce.number().int().nonnegative();

/** The `q` parameter as its AST; a syntax error is a 400 naming the position and what was expected. */
const QueryParam = z.string().transform((s, ctx) => {
  try {
    return parseQuery(s);
  } catch (err) {
    if (!(err instanceof QueryError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
    return z.NEVER;
  }
});

/** from, to and q: what search, export and analysis have in common. */
export const RangeQuery = z.strictObject({
  from: UnixSeconds.optional(),
  to: UnixSeconds.optional(),
  q: QueryParam.optional(),
});
export type RangeQuery = z.infer<typeof RangeQuery>;

/**
 * Sort keys, `-` descending, record_id breaking ties. `start` is the record's start (its first packet);
 * a record without one (NODATA, SKIPDATA) sorts at its window's start.
 */
const SORT_KEYS = {
  start: START,
  bytes: 'coalesce(bytes, 0)',
  packets: 'coalesce(packets, 0)',
} as const;
export const SORTS = ['start', '-start', 'bytes', '-bytes', 'packets', '-packets'] as const;
export type Sort = (typeof SORTS)[number];

export const EXPORT_FORMATS = ['ndjson', 'csv', 'text'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const SearchQuery = RangeQuery.extend({
  sort: z.enum(SORTS).default('start').meta({
    description:
      "start: the record's start (its window's start without one), bytes or packets; '-' descending; ties by record id",
  }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional(),
  format: z.enum(EXPORT_FORMATS).optional(),
});
export type SearchQuery = z.infer<typeof SearchQuery>;

/** Which records: always one log topic of one account, a time range, and the query (if any). */
export interface RecordScope {
  logTopicId: string;
  accountId: string;
  from: number;
  to: number;
  where: Query | undefined;
}

/** The position after the last record of a page, in the order of `sort`. */
export interface Cursor {
  sort: Sort;
  key: number;
  recordId: string;
}

export interface RecordSearch extends RecordScope {
  sort: Sort;
  limit: number;
  after: Cursor | undefined;
}

/** Opaque to clients (base64url JSON), and only valid with the sort it was made for. */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.sort, c.key, c.recordId])).toString('base64url');
}

export function decodeCursor(s: string): Cursor | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      v.length === 3 &&
      SORTS.includes(v[0]) &&
      Number.isSafeInteger(v[1]) &&
      typeof v[2] === 'string'
    ) {
      return { sort: v[0], key: v[1], recordId: v[2] };
    }
  } catch {
    // not JSON: falls through to undefined
  }
  return undefined;
}

/** The time range defaults to the hour before `now` (or before `to`); an empty or reversed range is a 400. */
export function resolveRange(query: Pick<RangeQuery, 'from' | 'to'>, now: number): { from: number; to: number } {
  const to = query.to ?? now;
  const from = query.from ?? Math.max(0, to - DEFAULT_SPAN);
  if (from >= to) throw invalid([{ path: 'from', message: `must be before to (${from} >= ${to})` }]);
  return { from, to };
}

/** The scope of a request on a log topic of the caller's account. */
export function recordScope(logTopicId: string, accountId: string, query: RangeQuery, now: number): RecordScope {
  return { logTopicId, accountId, ...resolveRange(query, now), where: query.q };
}

/** The search a request asks for; a cursor of another sort (or not ours) is a 400. */
export function recordSearch(scope: RecordScope, query: Pick<SearchQuery, 'sort' | 'limit' | 'cursor'>): RecordSearch {
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (query.cursor !== undefined && after?.sort !== query.sort) {
    throw invalid([{ path: 'cursor', message: `not a cursor this API returned for sort=${query.sort}` }]);
  }
  return { ...scope, sort: query.sort, limit: query.limit, after };
}

/**
 * The conditions of a scope: records whose window overlaps [from, to), of this account and log topic,
 * matching the query. The lower bound on window_start is implied by the overlap; stated explicitly it
 * lets Postgres prune the daily partitions. A record starts inside its window, so its start lies
 * before to + LONGEST_WINDOW and no earlier than the earliest window overlapping `from`: stated
 * (`start`, by default when the query reads an address), the bounds let the start and address
 * indexes, which are keyed by the start, seek the range rather than walk an address's or a day's
 * records from their first. When every match must have an address (`addressed`), it is an OK record
 * (NODATA and SKIPDATA records have none), whose windows the series and the pending rows list: the
 * earliest of those overlapping `from` is the bound — with one-minute windows a search's ordered walk
 * of a busy address starts a minute before `from`, not LONGEST_WINDOW (thousands of rows, each read
 * from the heap to be dropped). Only searches ask for it: a bound Postgres cannot see when planning
 * turned an analysis's parallel scan of a day into one index walk (a /16: 4.8 s → 10.3 s).
 */
export function scopeSql(
  s: RecordScope,
  params: SqlParams,
  { start = readsAddress(s.where), addressed = false } = {},
): string {
  const from = params.add(s.from);
  const [topic, account] = [params.add(s.logTopicId), params.add(s.accountId)];
  const conditions = [
    `log_topic_id = ${topic}`,
    `account_id = ${account}`,
    `window_start < ${params.add(s.to)}`,
    `window_end > ${from}`,
    `window_start >= ${from}::bigint - ${LONGEST_WINDOW}`,
  ];
  if (start) {
    const overlapping = `log_topic_id = ${topic} AND account_id = ${account} AND window_start >= ${from}::bigint - ${LONGEST_WINDOW} AND window_start < ${from} AND window_end > ${from}`;
    const earliest = addressed
      ? `coalesce((SELECT min(window_start) FROM (SELECT window_start FROM flow_rollup_series WHERE ${overlapping} ` +
        `UNION ALL SELECT window_start FROM flow_rollup_pending WHERE ${overlapping}) AS w), ${from}::bigint)`
      : `${from}::bigint - ${LONGEST_WINDOW}`;
    conditions.push(`${START} >= ${earliest} AND ${START} < ${params.add(s.to + LONGEST_WINDOW)}::bigint`);
  }
  if (s.where) conditions.push(querySql(s.where, params));
  return conditions.join(' AND ');
}

const ADDRESS_COLUMNS = ['srcaddr', 'dstaddr'];
const readsAddress = (where: Query | undefined) => ADDRESS_COLUMNS.some((c) => queryColumns(where).has(c));

/** Whether every record matching `where` has srcaddr or dstaddr: a match on one, not under NOT, on every side of an OR. */
function requiresAddress(where: Query | undefined): boolean {
  if (!where || where.type === 'not') return false;
  if (where.type === 'match') return readsAddress(where);
  const [left, right] = [requiresAddress(where.left), requiresAddress(where.right)];
  return where.type === 'and' ? left || right : left && right;
}

/** The address of a query that is one bare address (not a CIDR), else undefined. */
function bareAddress(where: Query | undefined): string | undefined {
  return where?.type === 'match' && where.field === 'address' && !String(where.value).includes('/')
    ? String(where.value)
    : undefined;
}

/**
 * One more record than the page, in the sort's order after the cursor, so the caller knows whether a
 * next page exists. A bare address is searched as two ordered branches — source, then destination
 * where it is not also the source — each walking its own address index, rather than one scan of the
 * time index that checks `srcaddr = ip OR dstaddr = ip` row by row (slow for busy addresses).
 */
export function recordSearchSql(s: RecordSearch): Sql {
  const params = new SqlParams();
  const key = SORT_KEYS[s.sort.replace('-', '') as keyof typeof SORT_KEYS];
  const descending = s.sort.startsWith('-');
  const direction = descending ? ' DESC' : '';
  const address = bareAddress(s.where);
  const conditions = [
    address === undefined
      ? scopeSql(s, params, { start: key === START || readsAddress(s.where), addressed: requiresAddress(s.where) })
      : scopeSql({ ...s, where: undefined }, params, { start: true, addressed: true }),
  ];
  if (s.after)
    conditions.push(
      `(${key}, record_id) ${descending ? '<' : '>'} (${params.add(s.after.key)}, ${params.add(s.after.recordId)})`,
    );
  const limit = params.add(s.limit + 1);
  const select = (extra?: string) =>
    `SELECT ${RECORD_COLUMNS.join(', ')}, ${key} AS sort_key FROM flow_records WHERE ${[...conditions, ...(extra ? [extra] : [])].join(' AND ')} ORDER BY ${key}${direction}, record_id${direction} LIMIT ${limit}`;
  if (address === undefined) return { text: select(), values: params.values };
  const ip = `${params.add(address)}::inet`;
  return {
    text: `SELECT * FROM ((${select(`srcaddr = ${ip}`)}) UNION ALL (${select(`dstaddr = ${ip} AND srcaddr IS DISTINCT FROM ${ip}`)})) AS hits ORDER BY sort_key${direction}, record_id${direction} LIMIT ${limit}`,
    values: params.values,
  };
}

/** How many records the scope holds, counting no further than `cap`. */
export function recordCountSql(s: RecordScope, cap: number): Sql {
  const params = new SqlParams();
  const where = scopeSql(s, params);
  return {
    text: `SELECT count(*) AS n FROM (SELECT 1 FROM flow_records WHERE ${where} LIMIT ${params.add(cap)}) AS capped`,
    values: params.values,
  };
}

/** A row of recordSearchSql: the record (rebuilt from its columns, recordFromRow) and its place in the order. */
export interface RecordRow {
  record: FlowRecord;
  sort_key: number;
  record_id: string;
}

const cursorAfter = (row: RecordRow, sort: Sort): Cursor => ({ sort, key: row.sort_key, recordId: row.record_id });

/** The answer of a search: a page of records, and the cursor of the next page (null on the last). */
export const RecordPage = z.object({ records: z.array(FlowRecord), nextCursor: z.string().nullable() });
export type RecordPage = z.infer<typeof RecordPage>;

/** A page of at most `limit` records; the cursor points after its last one when more follow. */
export function recordPage(rows: RecordRow[], search: Pick<RecordSearch, 'limit' | 'sort'>): RecordPage {
  const page = rows.slice(0, search.limit);
  const last = page.at(-1);
  return {
    records: page.map((r) => r.record),
    nextCursor: rows.length > search.limit && last ? encodeCursor(cursorAfter(last, search.sort)) : null,
  };
}

const CSV_FIELDS = Object.keys(FIELD_KEYS) as (keyof typeof FIELD_KEYS)[];
const csvValue = (v: unknown) =>
  v === null || v === undefined ? '' : /[",\r\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v);

/** Each export format: its media type, a header line, and one line per record. */
export const EXPORTS: Record<ExportFormat, { contentType: string; header: string; line(r: FlowRecord): string }> = {
  ndjson: { contentType: 'application/x-ndjson', header: '', line: (r) => `${JSON.stringify(r)}\n` },
  csv: {
    contentType: 'text/csv; charset=utf-8',
    header: `${CSV_FIELDS.join(',')}\n`,
    line: (r) => `${CSV_FIELDS.map((f) => csvValue(r[FIELD_KEYS[f]])).join(',')}\n`,
  },
  text: { contentType: 'text/plain; charset=utf-8', header: '', line: (r) => `${formatText(r)}\n` },
};

/** The whole result, at most `cap` records, as chunks of the format, page after page along the cursor. */
export async function* exportChunks(
  search: RecordSearch,
  format: ExportFormat,
  fetchPage: (s: RecordSearch) => Promise<RecordRow[]>,
  cap = EXPORT_CAP,
): AsyncGenerator<string> {
  const { header, line } = EXPORTS[format];
  if (header) yield header;
  let after = search.after;
  for (let left = cap; left > 0; ) {
    const limit = Math.min(EXPORT_PAGE, left);
    const rows = await fetchPage({ ...search, limit, after });
    const page = rows.slice(0, limit);
    if (page.length) yield page.map((r) => line(r.record)).join('');
    left -= page.length;
    if (rows.length <= limit) return;
    after = cursorAfter(page.at(-1)!, search.sort);
  }
}
