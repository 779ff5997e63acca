/** Analysis of a log topic's records — top keys, a histogram over time, totals per action — as SQL and shapes. No I/O. */
import { z } from 'zod';
import {
  DAY,
  type Facet,
  FACETS,
  facetDimension,
  SERIES_COLUMNS,
  SERIES_PORT_BELOW,
  SLOT,
  TOP_KEYS,
  type TopKey,
} from '@flowlogs/db';
import { invalid } from './errors.js';
import { fieldNamed, type Query, SqlParams } from './query/index.js';
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

/** Where an answer came from: the rollups (and the records at the range's edges), or the records only. */
export const SOURCES = ['rollups', 'records'] as const;
export type Source = (typeof SOURCES)[number];
const SourceField = z.enum(SOURCES).meta({
  description:
    'rollups: summed from the rollups kept as records are stored (the records at the edges of the range, and of keys a 10-minute slot may have dropped); records: from every record of the range',
});

/** Sums over OK records: bytes, packets, and how many records (flows). */
export const Totals = z.object({ bytes: z.number().int(), packets: z.number().int(), flows: z.number().int() });
export type Totals = z.infer<typeof Totals>;

/** The answers: the top keys by the metric, every bucket of the range, the totals per action. */
export const TopItems = z.object({
  items: z.array(Totals.extend({ key: z.union([z.string(), z.number()]).nullable() })),
  source: SourceField,
});
export const Histogram = z.object({
  source: SourceField,
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

/** A time range, [from, to) in unix seconds. */
export interface Span {
  from: number;
  to: number;
}

/**
 * Where a top-N reads each part of [from, to): the whole UTC days from the daily level, the other
 * whole 10-minute slots from the slot level (those not sealed yet from the records), and the records
 * whose window starts before the first whole slot or from the end of the last (the edges: less than a
 * slot at each end). `whole` is the days and slots together; none when the range holds no whole slot.
 */
export function splitRange(range: Span): { whole?: Span; days?: Span; slots: Span[] } {
  const whole = { from: Math.ceil(range.from / SLOT) * SLOT, to: Math.floor(range.to / SLOT) * SLOT };
  if (whole.from >= whole.to) return { slots: [] };
  const days = { from: Math.ceil(range.from / DAY) * DAY, to: Math.floor(range.to / DAY) * DAY };
  if (days.from >= days.to) return { whole, slots: [whole] };
  const slots = [
    { from: whole.from, to: days.from },
    { from: days.to, to: whole.to },
  ].filter((s) => s.from < s.to);
  return { whole, days, slots };
}

/**
 * The top keys of the scope's OK records, from the records only: the answer when a query filters the
 * records (the rollups hold totals of all of them) and the reference the rollups' answer must equal.
 * Grouped by the column, the key made (host() of an address) per group, not per record.
 */
export function topRecordsSql(scope: RecordScope, query: Pick<TopQuery, 'by' | 'metric' | 'limit'>): Sql {
  const params = new SqlParams();
  return {
    text: `${recordTotalsSql(scope, query.by, params)} ORDER BY ${query.metric} DESC, 1 LIMIT ${params.add(query.limit)}`,
    values: params.values,
  };
}

/** The totals per key of the scope's OK records (those `keys` says, if given), as (key, bytes, packets, flows). */
function recordTotalsSql(scope: RecordScope, by: TopKey, params: SqlParams, keys?: TopRow['key'][]): string {
  const where = okScopeSql(scope, params);
  const { column, sql } = TOP_KEYS[by];
  const only = keys
    ? ` AND (${column} = ANY (${params.add(keys.filter((k) => k !== null))}::${columnType(by)}[])${keys.includes(null) ? ` OR ${column} IS NULL` : ''})`
    : '';
  return `SELECT ${sql} AS key, bytes, packets, flows FROM (SELECT ${column}, ${TOTALS} FROM flow_records WHERE ${where}${only} GROUP BY 1) AS g`;
}

/** The flow_records column's type of a key (addresses are inet there, text in answers). */
const columnType = (by: TopKey): string => (by === 'srcaddr' || by === 'dstaddr' ? 'inet' : TOP_KEYS[by].type);

/**
 * A rollups' answer whose other keys are settled, with the totals of its keys that are not exact
 * (`repair`: a sealed slot dropped keys it may have been among) from their records, ordered again.
 */
export function topKeysRepairSql(
  scope: RecordScope,
  query: Pick<TopQuery, 'by' | 'metric'>,
  answer: TopRow[],
  repair: TopRow['key'][],
): Sql {
  const params = new SqlParams();
  const type = TOP_KEYS[query.by].type;
  const column = (name: keyof TopRow, cast: string) => `${params.add(answer.map((r) => r[name]))}::${cast}[]`;
  const given = `SELECT * FROM unnest(${column('key', type)}, ${column('bytes', 'bigint')}, ${column('packets', 'bigint')}, ${column('flows', 'bigint')}) AS g (key, bytes, packets, flows)`;
  const fixed = recordTotalsSql(scope, query.by, params, repair);
  return {
    text:
      `WITH fixed AS (${fixed}) SELECT key, bytes, packets, flows FROM (${given}) AS g ` +
      `WHERE NOT EXISTS (SELECT 1 FROM fixed f WHERE f.key IS NOT DISTINCT FROM g.key) UNION ALL SELECT * FROM fixed ORDER BY ${query.metric} DESC, key`,
    values: params.values,
  };
}

/**
 * The top keys from the rollups, or undefined when they cannot answer (then the records do:
 * topRecordsSql). Protocols and actions from the series, exact for any range and with a query on
 * action and protocol only; the other keys from the levels (topLevelsSql), without a query or with
 * exactly a facet's (its own dimensions). Answers rows with a `certain` column: false asks the records.
 */
export function topRollupSql(scope: RecordScope, query: Pick<TopQuery, 'by' | 'metric' | 'limit'>): Sql | undefined {
  if ('inSeries' in TOP_KEYS[query.by]) return seriesAnswers(scope.where) ? topSeriesSql(scope, query) : undefined;
  if (scope.where === undefined) return topLevelsSql(scope, query);
  const facet = facetOf(scope.where);
  return facet && topLevelsSql(scope, query, facet);
}

/** The facet a query is, if it is exactly one (`action:REJECT`): the levels hold its keys too. */
export function facetOf(where: Query | undefined): Facet | undefined {
  if (where?.type !== 'match' || where.op !== '=') return undefined;
  return (Object.keys(FACETS) as Facet[]).find(
    (f) => FACETS[f].column === fieldNamed(where.field)?.column && FACETS[f].value === where.value,
  );
}

function topSeriesSql(scope: RecordScope, query: Pick<TopQuery, 'by' | 'metric' | 'limit'>): Sql {
  const params = new SqlParams();
  const rows = windowTotals(scope, params, true);
  return {
    text: `SELECT ${TOP_KEYS[query.by].column} AS key, ${SUMMED}, true AS certain FROM (${rows.text}) AS w GROUP BY 1 ORDER BY ${query.metric} DESC, 1 LIMIT ${params.add(query.limit)}`,
    values: params.values,
  };
}

/**
 * The top keys from the rollups: whole days from the daily level, other whole slots from the slot
 * level, the slots not sealed yet (in neither level; few: the last minutes) from the records, what is
 * not folded yet from the pending rows (but those of the slots read from the records), the edges from
 * the records; summed per key before ordering. A sealed slot keeps only its busiest keys and a bound
 * on the rest, so each key has its totals so far (lower) and at most `upper`: lower plus, for the
 * sealed slots that did not keep it, the least of their bounds summed and of what its daily totals of
 * the range's partial days leave (the daily level holds every key of the sealed slots, so no key goes
 * unseen). The answer is `certain` when every key it names was kept in every sealed slot that dropped
 * any (its totals are exact) and no other key can reach the last one's — nor, when it names fewer than
 * `limit`, have any record at all. Else the caller asks the records (topRecordsSql). Undefined without
 * a whole slot.
 *
 * Only the keys that can reach the answer are summed (a day has ~55,000 addresses; summing all of
 * them was most of a top-N's time). The floor (floor_value), the limit-th greatest of what the kept
 * keys of the slots and the busiest keys of each whole day add up to, is at most the answer's last
 * value; a key whose daily totals stay below floor / (the days the range touches) on every one of
 * those days, with nothing pending and no record in a slot not sealed (the daily totals hold the
 * sealed slots only), has less than the floor in all, so it is neither in the answer nor able to
 * reach it.
 */
function topLevelsSql(
  scope: RecordScope,
  query: Pick<TopQuery, 'by' | 'metric' | 'limit'>,
  facet?: Facet,
): Sql | undefined {
  const parts = splitRange(scope);
  if (!parts.whole) return undefined;
  const params = new SqlParams();
  const where = okScopeSql(scope, params);
  const key = TOP_KEYS[query.by];
  const m = query.metric;
  const [from, to] = [params.add(parts.whole.from), params.add(parts.whole.to)];
  // Account isolation as scopeSql has it on the records: this log topic and this account.
  const level = `log_topic_id = ${params.add(scope.logTopicId)} AND account_id = ${params.add(scope.accountId)}`;
  const dimension = `${level} AND dimension = ${params.add(facet ? facetDimension(query.by, facet) : query.by)}`;
  // A facet's records: its condition on the pending rows too (the records have it from the scope).
  const picked = facet ? ` AND ${FACETS[facet].column} = ${params.add(FACETS[facet].value)}` : '';
  const slotRanges = parts.slots.map((s) => ({ from: params.add(s.from), to: params.add(s.to) }));
  const inSlots = (column: string) =>
    slotRanges.map((s) => `(${column} >= ${s.from} AND ${column} < ${s.to})`).join(' OR ') || 'false';
  const days = parts.days && { from: params.add(parts.days.from), to: params.add(parts.days.to) };
  const inDays = (column: string) => (days ? `(${column} >= ${days.from} AND ${column} < ${days.to})` : 'false');
  // The days the slots and edges lie in (a window overlapping `from` starts up to 600 s before it).
  const touched = { from: Math.floor((scope.from - 600) / DAY) * DAY, to: Math.ceil(scope.to / DAY) * DAY };
  const [capFrom, capTo] = [params.add(touched.from), params.add(touched.to)];
  const limit = params.add(query.limit);
  // The keys that can reach the answer (see above), and the null key (records without one): only
  // theirs are summed. `expr` is a key as text.
  const isCandidate = (expr: string) => `(${expr} IN (SELECT key FROM candidates) OR ${expr} IS NULL)`;
  const slotOf = `window_start - window_start % ${SLOT}`;
  // The slots not sealed yet (in neither level: the last minutes) are read from the records, every
  // key of theirs a candidate, per key and whether in a whole day: bounded by the first and last
  // (index conditions), then picked.
  const inUnsealed = `${slotOf} = ANY (ARRAY(SELECT slot FROM unsealed))`;
  const fresh =
    `SELECT ${key.sql} AS key, ${inDays('window_start')} AS day, ${TOTALS} FROM flow_records WHERE ${where} ` +
    `AND window_start >= (SELECT min(slot) FROM unsealed) AND window_start < (SELECT max(slot) FROM unsealed) + ${SLOT} AND ${inUnsealed} GROUP BY 1, 2`;
  const touchedDays: number[] = [];
  for (let day = touched.from; day < touched.to; day += DAY) touchedDays.push(day);
  const isWholeDay = (day: number) => parts.days !== undefined && day >= parts.days.from && day < parts.days.to;
  // The daily totals of candidates on the given days, each looked up in the key's index (the null
  // key's by its own condition).
  const dailyOf = (columns: string, dayParam: string) =>
    ['key = ANY (ARRAY(SELECT key FROM candidates))', 'key IS NULL'].map(
      (k) =>
        `SELECT ${columns} FROM flow_rollup_daily WHERE ${dimension} AND day = ANY (${dayParam}::bigint[]) AND ${k}`,
    );
  // Columns: key, totals, the bounds of sealed slots that kept it, how many of those, whether a whole
  // day's, the cap of the metric and of flows. The slots not sealed count in the cap outside whole
  // days: the daily totals of the partial days do not hold them.
  const branches = [
    `SELECT ${key.sql} AS key, ${TOTALS}, 0::bigint, 0, false, 0::numeric, 0::numeric FROM flow_records WHERE ${where} AND ${isCandidate(`${key.sql}::text`)} ` +
      `AND (window_start < ${from} OR window_start >= ${to}) AND NOT ${inUnsealed} GROUP BY 1`,
    `SELECT key, bytes, packets, flows, 0::bigint, 0, day, CASE WHEN day THEN 0 ELSE ${m} END::numeric, CASE WHEN day THEN 0 ELSE flows END::numeric FROM fresh`,
    `SELECT key, ${TOTALS}, 0::bigint, 0, ${inDays('window_start')}, 0::numeric, 0::numeric FROM pending WHERE window_start >= ${from} AND window_start < ${to} ` +
      `AND ${slotOf} <> ALL (ARRAY(SELECT slot FROM unsealed)) AND ${isCandidate('key::text')} GROUP BY 1, 7`,
    `SELECT key, 0, 0, 0, 0::bigint, 0, false, ${m === 'flows' ? 'count(*)' : `coalesce(sum(${m}), 0)`}::numeric, count(*)::numeric FROM pending WHERE NOT ${inDays('window_start')} GROUP BY 1`,
    ...dailyOf(
      `key::${key.type}, 0, 0, 0, 0::bigint, 0, false, ${m}::numeric, flows::numeric`,
      params.add(touchedDays.filter((day) => !isWholeDay(day))),
    ),
    `SELECT key::${key.type}, bytes, packets, flows, slack, sealed, false, 0::numeric, 0::numeric FROM kept WHERE ${isCandidate('key')}`,
  ];
  // What some keys have at least: their kept totals in the slots, and in each whole day the busiest ones'.
  const floorParts = [`SELECT key, ${m} AS v FROM kept`];
  if (days) {
    branches.push(
      ...dailyOf(
        `key::${key.type}, bytes, packets, flows, 0::bigint, 0, true, 0::numeric, 0::numeric`,
        params.add(touchedDays.filter(isWholeDay)),
      ),
    );
    floorParts.push(
      `SELECT b.key, b.v FROM generate_series(${days.from}::bigint, ${days.to}::bigint - ${DAY}, ${DAY}) AS g (day) ` +
        `CROSS JOIN LATERAL (SELECT key, ${m} AS v FROM flow_rollup_daily WHERE ${dimension} AND day = g.day ` +
        `ORDER BY ${m} DESC LIMIT ${limit}) b`,
    );
  }
  const dayCount = params.add(touchedDays.length);
  return {
    text:
      `WITH rest AS (SELECT slot, ${m}_max FROM flow_rollup_slot_rest WHERE ${dimension} AND sealed AND flows_max > 0 AND (${inSlots('slot')})), ` +
      // The slots of the range's records (edges too) not sealed.
      `unsealed AS (SELECT slot FROM flow_rollup_slot_rest WHERE ${dimension} AND NOT sealed AND slot >= ${params.add(Math.floor((scope.from - 600) / SLOT) * SLOT)} AND slot < ${params.add(scope.to)}), ` +
      `fresh AS MATERIALIZED (${fresh}), ` +
      // The kept keys of the sealed slots (keys a fold of the version before wrote to an open slot
      // are left out: its records count instead), read once for the floor and the totals.
      `kept AS MATERIALIZED (SELECT k.key, k.bytes, k.packets, k.flows, coalesce(r.${m}_max, 0) AS slack, (r.slot IS NOT NULL)::int AS sealed ` +
      `FROM flow_rollup_slot k LEFT JOIN rest r USING (slot) WHERE k.${dimension.replaceAll(' AND ', ' AND k.')} ` +
      `AND (${inSlots('k.slot')}) AND k.slot <> ALL (ARRAY(SELECT slot FROM unsealed))), ` +
      // What is not folded yet, of the days touched: read once.
      `pending AS MATERIALIZED (SELECT ${key.sql} AS key, window_start, bytes, packets FROM flow_rollup_pending ` +
      `WHERE ${level}${picked} AND window_start >= ${capFrom} AND window_start < ${capTo}), ` +
      `floor_value AS (SELECT coalesce((SELECT sum(v) FROM (${floorParts.join(' UNION ALL ')}) AS l GROUP BY key ` +
      `ORDER BY 1 DESC OFFSET ${limit} - 1 LIMIT 1), 0) AS v), ` +
      `candidates AS (SELECT key FROM flow_rollup_daily WHERE ${dimension} AND day >= ${capFrom} AND day < ${capTo} ` +
      `AND ${m} * ${dayCount}::int >= (SELECT v FROM floor_value) ` +
      `UNION SELECT key::text FROM pending UNION SELECT key::text FROM fresh), ` +
      `parts (key, bytes, packets, flows, slack, sealed, day, cap, cap_flows) AS (${branches.join(' UNION ALL ')}), ` +
      `totals AS (SELECT key, sum(bytes)::bigint AS bytes, sum(packets)::bigint AS packets, sum(flows)::bigint AS flows, sum(slack) AS slack, ` +
      `sum(sealed) AS sealed, coalesce(sum(${m}) FILTER (WHERE NOT day), 0) AS partial, sum(cap) AS cap, ` +
      `coalesce(sum(flows) FILTER (WHERE NOT day), 0) AS partial_flows, sum(cap_flows) AS cap_flows FROM parts GROUP BY 1), ` +
      `bound AS (SELECT coalesce(sum(${m}_max), 0) AS slack, count(*) AS sealed FROM rest), ` +
      // Exact: kept by every sealed slot that dropped keys, or with as many records outside whole days
      // as its daily totals of those days (and the slots not sealed, the pending rows) hold — then
      // none of its records is missing, whatever slot dropped it.
      `ranked AS (SELECT t.*, t.${m} + least(b.slack - t.slack, greatest(t.cap - t.partial, 0)) AS upper, ` +
      `t.sealed = b.sealed OR t.cap_flows <= t.partial_flows AS exact ` +
      `FROM totals t CROSS JOIN bound b), ` +
      `top AS (SELECT * FROM ranked WHERE flows > 0 ORDER BY ${m} DESC, key LIMIT ${limit}), ` +
      `last AS (SELECT min(${m}) AS v, bool_and(exact) AS exact, count(*) AS n FROM top), ` +
      // The keys outside the answer: each exact, or unable to reach its last one. Below a full answer
      // any key with a record belongs in it, however little it has. Keys that are not candidates are
      // not here: they have less than the floor, which is at most the last one's. Settled, the answer
      // holds the right keys; those of its own keys that are not exact have their totals only bounded
      // (topKeysRepairSql takes them from their records: the exact totals only raise the last one's).
      `others AS (SELECT coalesce(bool_and(exact OR (upper < (SELECT v FROM last) AND (SELECT n FROM last) = ${limit})), true) AS settled ` +
      `FROM ranked r WHERE NOT EXISTS (SELECT 1 FROM top WHERE top.key IS NOT DISTINCT FROM r.key)) ` +
      `SELECT key, bytes, packets, flows, last.exact AND others.settled AS certain, top.exact, others.settled FROM top, last, others ` +
      // A facet the levels do not hold for all the days touched: a row that is not certain.
      (facet
        ? `UNION ALL SELECT NULL, 0, 0, 0, false, false, false WHERE NOT coalesce((SELECT since FROM flow_rollup_facets WHERE facet = ${params.add(facet)}) <= ${capFrom}, false) `
        : '') +
      `ORDER BY ${m} DESC, key`,
    values: params.values,
  };
}

/**
 * The settings of a top-N's transaction (the pool already turns JIT off): the memory to sum a day's
 * keys without spilling; and no nested loop, which Postgres took to join the kept keys of the slots
 * (~25,000 for a day) with their slots' bounds (1.7 s; hashed: milliseconds).
 */
export const TOP_SETTINGS = "SET LOCAL work_mem = '32MB'; SET LOCAL enable_nestloop = off";
/**
 * And for the rollups' statement, which reads little: no parallel workers, whose start-up (40–60 ms a
 * Gather, seen on the pending rows) cost more than they saved. The records' statement keeps them.
 */
export const TOP_ROLLUP_SETTINGS = `${TOP_SETTINGS}; SET LOCAL max_parallel_workers_per_gather = 0`;
export const TOP_RECORDS_SETTINGS = 'SET LOCAL max_parallel_workers_per_gather TO DEFAULT';

export type TopRow = Totals & { key: string | number | null };

export const topItems = (rows: TopRow[], source: Source): z.infer<typeof TopItems> => ({
  items: rows.map((r) => ({ key: r.key, ...totalsOf(r) })),
  source,
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

/**
 * Whether the series (flow_rollup_series) can answer for records matching `where`: no query, or one
 * whose every term is on action or protocol, or is a well-known port exactly (the series keeps other
 * ports as -1).
 */
export function seriesAnswers(where: Query | undefined): boolean {
  if (!where) return true;
  if (where.type === 'not') return seriesAnswers(where.query);
  if (where.type !== 'match') return seriesAnswers(where.left) && seriesAnswers(where.right);
  const column = where.field === 'address' ? undefined : fieldNamed(where.field)?.column;
  if (column === 'srcport' || column === 'dstport')
    return where.op === '=' && typeof where.value === 'number' && where.value < SERIES_PORT_BELOW;
  return column !== undefined && (SERIES_COLUMNS as readonly string[]).includes(column);
}

/**
 * The scope's OK records as (window_start, action, protocol, bytes, packets, flows) rows:
 * from the series and the pending rows not folded into it yet when seriesAnswers (and `rollup`), else
 * from the records. The scope's conditions hold on all three (the same column names).
 */
function windowTotals(scope: RecordScope, params: SqlParams, rollup: boolean): { text: string; source: Source } {
  if (!rollup || !seriesAnswers(scope.where)) {
    return {
      text: `SELECT window_start, action, protocol, coalesce(bytes, 0) AS bytes, coalesce(packets, 0) AS packets, 1 AS flows FROM flow_records WHERE ${okScopeSql(scope, params)}`,
      source: 'records',
    };
  }
  const series = `SELECT window_start, action, protocol, bytes, packets, flows FROM flow_rollup_series WHERE ${scopeSql(scope, params)}`;
  const pending = `SELECT window_start, action, protocol, coalesce(bytes, 0), coalesce(packets, 0), 1 FROM flow_rollup_pending WHERE ${scopeSql(scope, params)}`;
  return { text: `${series} UNION ALL ${pending}`, source: 'rollups' };
}

const SUMMED = 'sum(bytes)::bigint AS bytes, sum(packets)::bigint AS packets, sum(flows)::bigint AS flows';

/** Totals per bucket [from + i·step, from + (i+1)·step) of window_start; a window starting before `from` counts in the first. */
export function histogramSql(scope: RecordScope, step: number, { rollup = true } = {}): Sql & { source: Source } {
  const params = new SqlParams();
  const rows = windowTotals(scope, params, rollup);
  const [from, width] = [params.add(scope.from), params.add(step)];
  return {
    text: `SELECT ${from}::bigint + greatest(0, (window_start - ${from}::bigint) / ${width}::bigint) * ${width}::bigint AS start, ${SUMMED} FROM (${rows.text}) AS w GROUP BY 1 ORDER BY 1`,
    values: params.values,
    source: rows.source,
  };
}

export type HistogramRow = Totals & { start: number };

/** Every bucket of the range, empty ones as zeros. */
export function histogramBuckets(
  rows: HistogramRow[],
  range: { from: number; to: number },
  step: number,
  source: Source,
): z.infer<typeof Histogram> {
  const byStart = new Map(rows.map((r) => [r.start, totalsOf(r)]));
  const buckets = [];
  for (let start = range.from; start < range.to; start += step)
    buckets.push({ start, ...(byStart.get(start) ?? ZERO) });
  return { source, step, buckets };
}

export function actionsSql(scope: RecordScope, { rollup = true } = {}): Sql {
  const params = new SqlParams();
  const rows = windowTotals(scope, params, rollup);
  return { text: `SELECT action, ${SUMMED} FROM (${rows.text}) AS w GROUP BY action`, values: params.values };
}

export type ActionRow = Totals & { action: string };

export function actionTotals(rows: ActionRow[]): z.infer<typeof ActionTotals> {
  const of = (action: string) => totalsOf(rows.find((r) => r.action === action) ?? ZERO);
  return { ACCEPT: of('ACCEPT'), REJECT: of('REJECT') };
}
