/** Analysis of a log topic's records — top keys, a histogram over time, totals per action — as SQL and shapes. No I/O. */
import { z } from 'zod';
import { HOUR, TOP_KEYS, type TopKey } from '@flowlogs/db';
import { invalid } from './errors.js';
import { SqlParams } from './query/index.js';
import type { Sql } from './resources.js';
import { RangeQuery, scopeSql, type RecordScope } from './search.js';

const METRICS = ['bytes', 'packets', 'flows'] as const;
const MAX_BUCKETS = 10_000;

export const TopQuery = RangeQuery.extend({
  by: z.enum(Object.keys(TOP_KEYS) as [TopKey, ...TopKey[]]),
  metric: z.enum(METRICS).default('bytes'),
  limit: z.coerce.number().int().min(1).max(1000).default(10),
});
export type TopQuery = z.infer<typeof TopQuery>;

export const HistogramQuery = RangeQuery.extend({
  buckets: z.coerce.number().int().min(1).max(1000).default(60),
  step: z.coerce.number().int().min(1).optional(),
});
export type HistogramQuery = z.infer<typeof HistogramQuery>;

/** Sums over OK records: bytes, packets, and how many records (flows). */
export const Totals = z.object({ bytes: z.number().int(), packets: z.number().int(), flows: z.number().int() });
export type Totals = z.infer<typeof Totals>;

/** The answers: the top keys by the metric, every bucket of the range, the totals per action. */
export const TopItems = z.object({
  items: z.array(Totals.extend({ key: z.union([z.string(), z.number()]).nullable() })),
});
export const Histogram = z.object({
  step: z.number().int().meta({ description: 'bucket width in seconds' }),
  buckets: z.array(Totals.extend({ start: z.number().int().meta({ description: 'unix seconds' }) })),
});
export const ActionTotals = z.object({ ACCEPT: Totals, REJECT: Totals });

const TOTALS =
  'coalesce(sum(bytes), 0)::bigint AS bytes, coalesce(sum(packets), 0)::bigint AS packets, count(*) AS flows';
const ZERO: Totals = { bytes: 0, packets: 0, flows: 0 };
const totalsOf = (row: Totals): Totals => ({ bytes: row.bytes, packets: row.packets, flows: row.flows });

/** The scope's conditions plus the rule that only OK records count (NODATA and SKIPDATA carry no traffic). */
function okScopeSql(scope: RecordScope, params: SqlParams): string {
  return `${scopeSql(scope, params)} AND log_status = 'OK'`;
}

/**
 * The whole hours of the scope, which the hourly rollup answers `top` for: none when a query filters
 * the records (the rollup holds totals of all of them) or when the range holds no whole hour.
 */
export function rollupHours(scope: RecordScope): { from: number; to: number } | undefined {
  if (scope.where !== undefined) return undefined;
  const from = Math.ceil(scope.from / HOUR) * HOUR;
  const to = Math.floor(scope.to / HOUR) * HOUR;
  return from < to ? { from, to } : undefined;
}

/**
 * The top keys of the scope's OK records. Where the range holds whole hours (rollupHours), their totals
 * come from the rollup (and its pending rows) and only the records starting before the first or from
 * the last whole hour are read; the parts are summed per key before ordering, so the answer is the records' own. `rollup: false`
 * reads the records only.
 */
export function topSql(
  scope: RecordScope,
  query: Pick<TopQuery, 'by' | 'metric' | 'limit'>,
  { rollup = true } = {},
): Sql {
  const params = new SqlParams();
  const where = okScopeSql(scope, params);
  const key = TOP_KEYS[query.by];
  const hours = rollup ? rollupHours(scope) : undefined;
  const order = `ORDER BY ${query.metric} DESC, 1 LIMIT ${params.add(query.limit)}`;
  if (!hours)
    return {
      text: `SELECT ${key.sql} AS key, ${TOTALS} FROM flow_records WHERE ${where} GROUP BY 1 ${order}`,
      values: params.values,
    };
  const [from, to] = [params.add(hours.from), params.add(hours.to)];
  const records = (edge: string) =>
    `SELECT ${key.sql} AS key, ${TOTALS} FROM flow_records WHERE ${where} AND ${edge} GROUP BY 1`;
  // Account isolation as scopeSql has it on the records: this log topic and this account.
  const [topic, account] = [params.add(scope.logTopicId), params.add(scope.accountId)];
  const rolledUp =
    `SELECT key::${key.type}, bytes, packets, flows FROM flow_rollup_hourly WHERE log_topic_id = ${topic} ` +
    `AND account_id = ${account} AND dimension = ${params.add(query.by)} AND hour >= ${from} AND hour < ${to}`;
  // Records stored in the last seconds, not yet folded into the rollup (OK ones only, as the rollup).
  const pending =
    `SELECT ${key.sql} AS key, ${TOTALS} FROM flow_rollup_pending WHERE log_topic_id = ${topic} AND account_id = ${account} ` +
    `AND window_start >= ${from} AND window_start < ${to} GROUP BY 1`;
  return {
    text:
      `SELECT key, sum(bytes)::bigint AS bytes, sum(packets)::bigint AS packets, sum(flows)::bigint AS flows FROM (` +
      `${records(`window_start < ${from}`)} UNION ALL ${rolledUp} UNION ALL ${pending} UNION ALL ${records(`window_start >= ${to}`)}) AS parts GROUP BY 1 ${order}`,
    values: params.values,
  };
}

/**
 * The settings of topSql's transaction: no JIT, whose compiling took 0.1–0.4 s, more than it saved; and
 * the memory to sum a day's keys (55,000 addresses in the query benchmark: ~24 MB) without spilling.
 */
export const TOP_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '32MB'";

export type TopRow = Totals & { key: string | number | null };

export const topItems = (rows: TopRow[]): z.infer<typeof TopItems> => ({
  items: rows.map((r) => ({ key: r.key, ...totalsOf(r) })),
});

/** The bucket width: `step`, or the range split into `buckets`; too many buckets are a 400. */
export function histogramStep(
  range: { from: number; to: number },
  query: Pick<HistogramQuery, 'buckets' | 'step'>,
): number {
  const step = query.step ?? Math.max(1, Math.ceil((range.to - range.from) / query.buckets));
  if (Math.ceil((range.to - range.from) / step) > MAX_BUCKETS) {
    throw invalid([
      { path: 'step', message: `makes more than ${MAX_BUCKETS} buckets over ${range.to - range.from} s` },
    ]);
  }
  return step;
}

/** Totals per bucket [from + i·step, from + (i+1)·step) of window_start; a window starting before `from` counts in the first. */
export function histogramSql(scope: RecordScope, step: number): Sql {
  const params = new SqlParams();
  const where = okScopeSql(scope, params);
  const [from, width] = [params.add(scope.from), params.add(step)];
  return {
    text: `SELECT ${from}::bigint + greatest(0, (window_start - ${from}::bigint) / ${width}::bigint) * ${width}::bigint AS start, ${TOTALS} FROM flow_records WHERE ${where} GROUP BY 1 ORDER BY 1`,
    values: params.values,
  };
}

export type HistogramRow = Totals & { start: number };

/** Every bucket of the range, empty ones as zeros. */
export function histogramBuckets(
  rows: HistogramRow[],
  range: { from: number; to: number },
  step: number,
): z.infer<typeof Histogram> {
  const byStart = new Map(rows.map((r) => [r.start, totalsOf(r)]));
  const buckets = [];
  for (let start = range.from; start < range.to; start += step)
    buckets.push({ start, ...(byStart.get(start) ?? ZERO) });
  return { step, buckets };
}

export function actionsSql(scope: RecordScope): Sql {
  const params = new SqlParams();
  const where = okScopeSql(scope, params);
  return { text: `SELECT action, ${TOTALS} FROM flow_records WHERE ${where} GROUP BY action`, values: params.values };
}

export type ActionRow = Totals & { action: string };

export function actionTotals(rows: ActionRow[]): z.infer<typeof ActionTotals> {
  const of = (action: string) => totalsOf(rows.find((r) => r.action === action) ?? ZERO);
  return { ACCEPT: of('ACCEPT'), REJECT: of('REJECT') };
}
