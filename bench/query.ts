/**
 * Query benchmark: search and analysis latency through the HTTP API over a large log topic, against
 * the aims of the analysis issue, with the answers checked against the records.
 *
 *   npm run bench:query -- [--days D] [--records N] [--reload] [--rebuild-rollups] [--load-only]
 *     [--database NAME] [--requests N] [--agg-requests N] [--only ip|top|hist]
 *
 * Loads N flow records (default 10,000,000 a day) over D days (default 7; see lib/query-data.ts for
 * their shape) into one log topic of the database flowlogs_bench_query (or --database's; DATABASE_URL's server; kept
 * between runs and reused while the generator and row count match; --reload forces a new load,
 * --rebuild-rollups builds the rollups again and measures the publisher's fold; --load-only stops there,
 * so a long load can run outside the benchmark lock), runs the control plane
 * in-process against it (Kafka on KAFKA_BROKERS, started with `npx flowlogs-kafka start` when none
 * answers, a topic prefix of its own, deleted at the end) and times sequential requests with fetch,
 * warm-up excluded: IP search over an hour and over a day; top-10 by bytes and by packets of every
 * key, and a 60-bucket histogram, over the last day and over the last 7 days (ranges moved by a few
 * minutes per request, so partial slots at both ends), each against its aim; top and histogram with
 * the filters the console offers, against the 1-day aim. Every analysis answer of the first request
 * of each case is checked against the answer computed from the records alone (one scan per range,
 * and one per filtered case). It prints the loading
 * time, the sizes of the records and of the rollups (aim: at most 10 %), the rollups' maintenance
 * cost per record, and EXPLAIN (ANALYZE, BUFFERS) of one statement of each kind.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createPool, ensureDatabase, migrate, type Pool } from '@flowlogs/db';
import { createKafka } from '@flowlogs/kafka';
import { createLogger, createRegistry } from '@flowlogs/runtime';
import { ControlPlane, ControlPlaneConfig } from '@flowlogs/control-plane';
import {
  histogramBuckets,
  histogramSql,
  histogramStep,
  TOP_ROLLUP_SETTINGS,
  TOP_SETTINGS,
  topRecordsSql,
  topRollupSql,
} from '../services/control-plane/src/analysis.js';
import { TOP_KEYS, type TopKey } from '@flowlogs/db';
import { parseQuery, SqlParams } from '../services/control-plane/src/query/index.js';
import {
  recordScope,
  recordSearch,
  recordSearchSql,
  scopeSql,
  type RecordScope,
} from '../services/control-plane/src/search.js';
import { defaultCacheDir } from './lib/generate-capture.js';
import { median, mib, table } from './lib/measure.js';
import { ensureKafka } from './lib/pipeline-services.js';
import {
  buildRollups,
  countRecords,
  extraIndexes,
  GENERATOR_VERSION,
  loadDataSet,
  readDataSet,
  relationSizes,
  T0,
  type DataSet,
} from './lib/query-data.js';
import { explain, formatPlan, queryAsApi, type PlanSummary } from './lib/query-plans.js';
import { intOption } from './lib/args.js';

const API_KEY = 'bench-query-admin-key-0123456789';
const HOUR = 3600;
const DAY = 86_400;
const WARMUP = 5;

interface Options {
  days: number;
  records: number;
  reload: boolean;
  rebuildRollups: boolean;
  loadOnly: boolean;
  requests: number;
  aggRequests: number;
  only?: 'ip' | 'top' | 'hist';
  database: string;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    days: 7,
    records: 0,
    reload: false,
    rebuildRollups: false,
    loadOnly: false,
    requests: 50,
    aggRequests: 20,
    database: 'flowlogs_bench_query',
  };
  const int = (i: number, name: string, min = 1) => intOption(argv, i, name, min);
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--days':
        opts.days = int(i++, '--days');
        break;
      case '--rebuild-rollups':
        opts.rebuildRollups = true;
        break;
      case '--load-only':
        opts.loadOnly = true;
        break;
      case '--database':
        opts.database = argv[++i] ?? '';
        if (!/^[a-z_][a-z0-9_]*$/.test(opts.database)) throw new Error('--database takes a lower-case name');
        break;
      case '--records':
        opts.records = int(i++, '--records');
        break;
      case '--requests':
        opts.requests = int(i++, '--requests');
        break;
      case '--agg-requests':
        opts.aggRequests = int(i++, '--agg-requests');
        break;
      case '--reload':
        opts.reload = true;
        break;
      case '--only': {
        const v = argv[++i];
        if (v !== 'ip' && v !== 'top' && v !== 'hist') throw new Error('--only takes ip, top or hist');
        opts.only = v;
        break;
      }
      default:
        throw new Error(
          `unknown argument ${argv[i]} (--days D, --records N, --reload, --rebuild-rollups, --load-only, --database NAME, --requests N, --agg-requests N, --only ip|top|hist)`,
        );
    }
  }
  if (!opts.records) opts.records = 10_000_000 * opts.days;
  return opts;
}

function databaseUrl(name: string): string {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/flowlogs');
  url.pathname = `/${name}`;
  return url.toString();
}

/** p-th percentile, nearest rank. */
const pctl = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};

/** The data set's log topic and account: made through the API the first time (the operator account of API_KEY). */
async function ensureLogTopic(
  pool: Pool,
  url: string,
  existing: DataSet | undefined,
): Promise<{ logTopicId: string; accountId: string; flowLogId: string }> {
  if (existing) {
    const { rowCount } = await pool.query('SELECT 1 FROM log_topics WHERE id = $1 AND account_id = $2', [
      existing.logTopicId,
      existing.accountId,
    ]);
    if (rowCount)
      return { logTopicId: existing.logTopicId, accountId: existing.accountId, flowLogId: existing.flowLogId };
  }
  const post = async (path: string, body: unknown) => {
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string };
  };
  const suffix = randomBytes(3).toString('hex');
  const logset = await post('/v1/logsets', { name: `bench-query-${suffix}` });
  const topic = await post('/v1/log-topics', { logsetId: logset.id, name: `bench-query-${suffix}` });
  const { rows } = await pool.query<{ account_id: string }>('SELECT account_id FROM log_topics WHERE id = $1', [
    topic.id,
  ]);
  // The records name a flow log that is not configured: nothing reads it back (no rule, no aggregation).
  return { logTopicId: topic.id, accountId: rows[0].account_id, flowLogId: `fl-bench${suffix}` };
}

interface Sample {
  ip: string;
  kind: 'top' | 'tail';
}

/** Addresses drawn from the data: the busiest (by records) and rare ones, alternating. */
async function sampleAddresses(pool: Pool, logTopicId: string, n: number): Promise<Sample[]> {
  const { rows: top } = await pool.query<{ ip: string }>(
    `SELECT host(srcaddr) AS ip FROM flow_records TABLESAMPLE SYSTEM (2) REPEATABLE (7) WHERE log_topic_id = $1 AND srcaddr IS NOT NULL
     GROUP BY srcaddr ORDER BY count(*) DESC LIMIT 10`,
    [logTopicId],
  );
  const { rows: tail } = await pool.query<{ ip: string }>(
    `SELECT ip FROM (SELECT host(a) AS ip, count(*) AS c FROM (SELECT srcaddr AS a FROM flow_records TABLESAMPLE SYSTEM (2) REPEATABLE (11)
       WHERE log_topic_id = $1 AND srcaddr IS NOT NULL UNION ALL SELECT dstaddr FROM flow_records TABLESAMPLE SYSTEM (2) REPEATABLE (11)
       WHERE log_topic_id = $1 AND dstaddr IS NOT NULL) s GROUP BY a) t WHERE c <= 2 ORDER BY md5(ip) LIMIT $2`,
    [logTopicId, n],
  );
  const samples: Sample[] = [];
  for (let i = 0; i < n; i++) {
    samples.push(
      i % 2 === 0
        ? { ip: top[(i >> 1) % top.length].ip, kind: 'top' }
        : { ip: tail[(i >> 1) % tail.length].ip, kind: 'tail' },
    );
  }
  return samples;
}

interface Case {
  name: string;
  aim?: { ms: number; text: string };
  /** Request i's path and query (without the /v1/log-topics/:id prefix), and its kind for the split. */
  request(i: number): { path: string; kind?: string };
  count: number;
  /** The statement the API runs for request i (for EXPLAIN), from the control plane's builders, and the settings it runs under. */
  sql(i: number): { text: string; values: unknown[] };
  settings?: string;
  /** Checked against the records-only answer over the range of request 0. */
  check?: { span: number; kind: 'top' | 'hist'; by?: TopKey; metric?: 'bytes' | 'packets' };
  /** Or against this answer of request 0 from the records only (a filtered one: its own scan). */
  reference?: () => Promise<{ items?: unknown; buckets?: unknown }>;
}

interface Timing {
  name: string;
  ms: number[];
  byKind: Map<string, number[]>;
  resultNote: string;
  /** The answer to request 0. */
  first: Record<string, unknown>;
}

async function timeCase(url: string, logTopicId: string, c: Case): Promise<Timing> {
  const get = async (path: string) => {
    const t = performance.now();
    const res = await fetch(`${url}/v1/log-topics/${logTopicId}/${path}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    const body = await res.text();
    const ms = performance.now() - t;
    if (res.status !== 200) throw new Error(`${c.name}: GET ${path} → ${res.status} ${body.slice(0, 300)}`);
    return { ms, body: JSON.parse(body) as Record<string, unknown[]> & { source?: string } };
  };
  for (let i = 0; i < WARMUP; i++) await get(c.request(c.count + i).path);
  const ms: number[] = [];
  const byKind = new Map<string, number[]>();
  const sizes: number[] = [];
  const sources = new Set<unknown>();
  let first: Record<string, unknown> = {};
  for (let i = 0; i < c.count; i++) {
    const { path, kind } = c.request(i);
    const r = await get(path);
    if (i === 0) first = r.body;
    if (r.body.source) sources.add(r.body.source);
    ms.push(r.ms);
    if (kind) byKind.set(kind, [...(byKind.get(kind) ?? []), r.ms]);
    const list = r.body.records ?? r.body.items ?? r.body.buckets ?? [];
    sizes.push(list.length);
  }
  const from = sources.size ? `, source: ${[...sources].join(' and ')}` : '';
  return { name: c.name, ms, byKind, first, resultNote: `${Math.min(...sizes)}–${Math.max(...sizes)} items${from}` };
}

function machine(): string {
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; Node ${process.version}`;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const dbUrl = databaseUrl(opts.database);
  console.log(`machine: ${machine()}`);
  await ensureDatabase(dbUrl);
  const pool = createPool(dbUrl, 4);
  await migrate(pool);
  const pg = await pool.query<{ v: string; sb: string; wm: string; pw: string }>(
    "SELECT current_setting('server_version') AS v, current_setting('shared_buffers') AS sb, current_setting('work_mem') AS wm, current_setting('max_parallel_workers_per_gather') AS pw",
  );
  console.log(
    `postgres ${pg.rows[0].v}: shared_buffers ${pg.rows[0].sb}, work_mem ${pg.rows[0].wm}, max_parallel_workers_per_gather ${pg.rows[0].pw}; database ${opts.database}`,
  );

  const kafkaState = ensureKafka();
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const prefix = `benchq${randomBytes(3).toString('hex')}`;
  const log = createLogger('bench-query', process.env.LOG_LEVEL ?? 'warn');
  const kafka = createKafka(brokers, `bench-query-${prefix}`, log);
  const env = {
    KAFKA_BROKERS: brokers.join(','),
    FLOWLOGS_TOPIC_PREFIX: prefix,
    DATABASE_URL: dbUrl,
    HTTP_PORT: '0',
    FLOWLOGS_API_KEY: API_KEY,
    LOG_LEVEL: 'warn',
    FLOWLOGS_RATE_LIMIT: '1000000',
  };
  const controlPlane = new ControlPlane({
    config: ControlPlaneConfig.parse(env),
    log,
    kafka,
    pool,
    registry: createRegistry('control-plane'),
  });
  await controlPlane.start();
  console.log(
    `control plane in-process at ${controlPlane.url}; Kafka ${brokers.join(',')} (${kafkaState.started ? 'started now' : 'already running'}), prefix ${prefix}`,
  );
  try {
    let data = await readDataSet(pool);
    const ids = await ensureLogTopic(pool, controlPlane.url, data);
    let reuse =
      !opts.reload &&
      data?.version === GENERATOR_VERSION &&
      data.records === opts.records &&
      data.days === opts.days &&
      data.logTopicId === ids.logTopicId;
    if (reuse) {
      const t = performance.now();
      const n = await countRecords(pool, ids.logTopicId);
      reuse = n === opts.records;
      console.log(
        `data set: ${n.toLocaleString('en')} rows counted in ${((performance.now() - t) / 1000).toFixed(1)} s — ${reuse ? `reused (loaded ${data!.loadedAt})` : 'does not match, reloading'}`,
      );
    }
    if (!reuse) {
      console.log(
        `data set: loading ${opts.records.toLocaleString('en')} records over ${opts.days} days${opts.reload ? ' (--reload)' : ''}…`,
      );
      data = await loadDataSet(pool, opts.records, opts.days, ids);
    } else if (opts.rebuildRollups) {
      const r = await buildRollups(pool, data!.logTopicId, T0, T0 + data!.days * DAY);
      data = {
        ...data!,
        rollupSec: r.sec,
        rollupUsPerRecord: r.usPerRecord,
        foldRecords: r.foldRecords,
        lateUsPerRecord: r.lateUsPerRecord,
      };
      await pool.query('UPDATE bench_query_meta SET data = $1 WHERE id = 1', [JSON.stringify(data)]);
    }
    const set = data!;
    const end = T0 + set.days * DAY;
    if (opts.loadOnly) return;
    console.log(
      `  loading: records generated and stored in ${set.loadSec.toFixed(0)} s, their indexes built (and VACUUM ANALYZE) in ${set.indexSec.toFixed(0)} s, ` +
        `rollups built in ${set.rollupSec.toFixed(0)} s (a day a statement, two days at once); the publisher's folds and seal ${set.rollupUsPerRecord.toFixed(1)} µs per OK record (${set.foldRecords.toLocaleString('en')} records of a slot, a fold every 2 s of them)`,
    );
    const sizes = await relationSizes(pool);
    const stats = await pool.query<{
      ok: number;
      nodata: number;
      skip: number;
      reject: number;
      src: number;
      dst: number;
    }>(
      `SELECT count(*) FILTER (WHERE log_status = 'OK')::float / count(*) AS ok, count(*) FILTER (WHERE log_status = 'NODATA')::float / count(*) AS nodata,
       count(*) FILTER (WHERE log_status = 'SKIPDATA')::float / count(*) AS skip, count(*) FILTER (WHERE action = 'REJECT')::float / count(*) AS reject,
       count(DISTINCT srcaddr) AS src, count(DISTINCT dstaddr) AS dst FROM flow_records TABLESAMPLE SYSTEM (1) REPEATABLE (3) WHERE log_topic_id = $1`,
      [set.logTopicId],
    );
    const s = stats.rows[0];
    const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
    const records = sizes.heap + sizes.indexes;
    const rollups = sizes.rollups.reduce((a, r) => a + r.bytes, 0);
    console.log(
      `  ${set.records.toLocaleString('en')} records over ${set.days} days, log topic ${set.logTopicId} (account ${set.accountId}), windows of 60 s from ${new Date(T0 * 1000).toISOString()}; ` +
        `heap ${mib(sizes.heap)}, indexes ${mib(sizes.indexes)} (${sizes.perIndex.map((i) => `${i.name} ${mib(i.bytes)}`).join(', ')}) = ${(records / set.records).toFixed(0)} B a record`,
    );
    console.log(
      `  rollups with their indexes: ${sizes.rollups.map((r) => `${r.name} ${mib(r.bytes)} (~${r.rows.toLocaleString('en')} rows)`).join(', ')}; ` +
        `together ${mib(rollups)} = ${((100 * rollups) / records).toFixed(2)} % of the records' ${mib(records)}`,
    );
    console.log(
      `  1 % sample: OK ${pct(s.ok)}, NODATA ${pct(s.nodata)}, SKIPDATA ${pct(s.skip)}, REJECT ${pct(s.reject)}; ${s.src} distinct srcaddr, ${s.dst} distinct dstaddr`,
    );
    const extra = await extraIndexes(pool);
    console.log(
      extra.length
        ? `  indexes beyond the migrations' (made by hand):\n${extra.map((d) => `    ${d}`).join('\n')}`
        : "  indexes: the migrations' only",
    );

    const samples = await sampleAddresses(pool, set.logTopicId, Math.max(opts.requests, opts.aggRequests) + WARMUP);
    // "A day": the last 24 h of the data; "an hour": a different hour inside it per request.
    const dayFrom = end - DAY;
    const hourFrom = (i: number) => dayFrom + ((i * 7919) % (DAY / HOUR - 1)) * HOUR + ((i * 13) % 60) * 60;
    const scope = (from: number, to: number, q?: string) =>
      recordScope(set.logTopicId, set.accountId, { from, to, q: q === undefined ? undefined : parseQuery(q) }, end);
    const searchSql = (from: number, to: number, ip: string) =>
      recordSearchSql(recordSearch(scope(from, to, ip), { sort: 'start', limit: 100 }));
    const sample = (i: number) => samples[i % samples.length];

    const cases: Case[] = [];
    if (!opts.only || opts.only === 'ip') {
      cases.push({
        name: 'IP search, 1 hour',
        aim: { ms: 50, text: 'p95 < 50 ms' },
        count: opts.requests,
        request: (i) => ({
          path: `records?q=${sample(i).ip}&from=${hourFrom(i)}&to=${hourFrom(i) + HOUR}&limit=100`,
          kind: sample(i).kind,
        }),
        sql: (i) => searchSql(hourFrom(i), hourFrom(i) + HOUR, sample(i).ip),
      });
      cases.push({
        name: 'IP search, 1 day',
        aim: { ms: 50, text: 'p95 < 50 ms' },
        count: opts.requests,
        request: (i) => ({
          path: `records?q=${sample(i).ip}&from=${dayFrom}&to=${end}&limit=100`,
          kind: sample(i).kind,
        }),
        sql: (i) => searchSql(dayFrom, end, sample(i).ip),
      });
    }
    // Aggregations over the last day and the last 7 days (as far as the data goes), the range moved
    // back by a few minutes per request so that no two are the same statement and both ends cut slots.
    const spans = [
      { label: '1 day', seconds: DAY, aim: { ms: 300, text: 'p95 ≤ 300 ms' } },
      ...(set.days >= 7 ? [{ label: '7 days', seconds: 7 * DAY, aim: { ms: 1000, text: 'p95 ≤ 1 s' } }] : []),
    ];
    const rangeOf = (seconds: number, i: number) => {
      const to = end - (i % 30) * 60 - 17;
      return { from: to - seconds, to };
    };
    /** A filtered top-10 by bytes of request 0's day, from the records only: a filtered case's reference. */
    const topOfRecords = (by: TopKey, q: string) => async () => {
      const r = rangeOf(DAY, 0);
      return {
        items: (await pool.query(topRecordsSql(scope(r.from, r.to, q), { by, metric: 'bytes', limit: 10 }))).rows,
      };
    };
    const TOP_BY: TopKey[] = ['srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'action'];
    if (!opts.only || opts.only === 'top') {
      for (const span of spans)
        for (const by of TOP_BY)
          for (const metric of ['bytes', 'packets'] as const)
            cases.push({
              name: `top-10 ${by} by ${metric}, ${span.label}`,
              aim: span.aim,
              count: opts.aggRequests,
              check: { span: span.seconds, kind: 'top', by, metric },
              request: (i) => {
                const r = rangeOf(span.seconds, i);
                return { path: `analysis/top?by=${by}&metric=${metric}&limit=10&from=${r.from}&to=${r.to}` };
              },
              sql: (i) => {
                const r = rangeOf(span.seconds, i);
                return topRollupSql(scope(r.from, r.to), { by, metric, limit: 10 })!;
              },
              settings: TOP_ROLLUP_SETTINGS,
            });
      // A top-N of protocols with a query on action: the series answers it.
      cases.push({
        name: 'top-10 protocol by bytes, q=action:REJECT, 1 day',
        aim: spans[0].aim,
        count: Math.min(opts.aggRequests, 5),
        request: (i) => {
          const r = rangeOf(DAY, i);
          return {
            path: `analysis/top?by=protocol&metric=bytes&limit=10&from=${r.from}&to=${r.to}&q=${encodeURIComponent('action:REJECT')}`,
          };
        },
        sql: (i) => {
          const r = rangeOf(DAY, i);
          return topRollupSql(scope(r.from, r.to, 'action:REJECT'), { by: 'protocol', metric: 'bytes', limit: 10 })!;
        },
        settings: TOP_ROLLUP_SETTINGS,
        reference: topOfRecords('protocol', 'action:REJECT'),
      });
      // Top-Ns with the queries the console offers (the REJECT facet from the rollups, the others
      // from the records), under the same aim, each checked against its own records-only answer.
      for (const q of ['action:REJECT', 'protocol:17', 'dstport:443', samples[0].ip, '10.16.0.0/16']) {
        const top = (i: number) => {
          const r = rangeOf(DAY, i);
          const query = { by: 'srcaddr', metric: 'bytes', limit: 10 } as const;
          const rollup = topRollupSql(scope(r.from, r.to, q), query);
          return rollup
            ? { sql: rollup, settings: TOP_ROLLUP_SETTINGS }
            : { sql: topRecordsSql(scope(r.from, r.to, q), query), settings: TOP_SETTINGS };
        };
        cases.push({
          name: `top-10 srcaddr by bytes, q=${q}, 1 day`,
          aim: spans[0].aim,
          count: Math.min(opts.aggRequests, 5),
          request: (i) => {
            const r = rangeOf(DAY, i);
            return {
              path: `analysis/top?by=srcaddr&metric=bytes&limit=10&from=${r.from}&to=${r.to}&q=${encodeURIComponent(q)}`,
            };
          },
          sql: (i) => top(i).sql,
          settings: top(0).settings,
          reference: topOfRecords('srcaddr', q),
        });
      }
    }
    if (!opts.only || opts.only === 'hist') {
      for (const span of spans)
        cases.push({
          name: `histogram (60 buckets), ${span.label}`,
          aim: span.aim,
          count: opts.aggRequests,
          check: { span: span.seconds, kind: 'hist' },
          request: (i) => {
            const r = rangeOf(span.seconds, i);
            return { path: `analysis/histogram?buckets=60&from=${r.from}&to=${r.to}` };
          },
          sql: (i) => {
            const r = rangeOf(span.seconds, i);
            const sc = scope(r.from, r.to);
            return histogramSql(sc, histogramStep(sc, { buckets: 60 }));
          },
        });
      for (const q of ['action:REJECT', 'protocol:17', 'dstport:443'])
        cases.push({
          name: `histogram (60 buckets), q=${q}, 1 day`,
          aim: spans[0].aim,
          count: Math.min(opts.aggRequests, 5),
          request: (i) => {
            const r = rangeOf(DAY, i);
            return { path: `analysis/histogram?buckets=60&from=${r.from}&to=${r.to}&q=${encodeURIComponent(q)}` };
          },
          sql: (i) => {
            const r = rangeOf(DAY, i);
            const sc = scope(r.from, r.to, q);
            return histogramSql(sc, histogramStep(sc, { buckets: 60 }));
          },
          reference: async () => {
            const r = rangeOf(DAY, 0);
            const sc = scope(r.from, r.to, q);
            const step = histogramStep(sc, { buckets: 60 });
            const rows = (await pool.query(histogramSql(sc, step, { rollup: false }))).rows;
            return { buckets: histogramBuckets(rows, sc, step, 'records').buckets };
          },
        });
    }

    const timings: Timing[] = [];
    for (const c of cases) {
      const t = await timeCase(controlPlane.url, set.logTopicId, c);
      timings.push(t);
      console.log(
        `${c.name}: ${c.count} requests after ${WARMUP} warm-up, p50 ${median(t.ms).toFixed(1)} ms, p95 ${pctl(t.ms, 95).toFixed(1)} ms, max ${Math.max(...t.ms).toFixed(1)} ms; ${t.resultNote}`,
      );
    }

    // The first request of each checked case against the records alone: one scan per range.
    const checks = new Map<string, string>();
    for (const c of cases.filter((x) => x.reference)) {
      const t = performance.now();
      const want = await c.reference!();
      const got = timings.find((x) => x.name === c.name)!.first;
      const same = JSON.stringify(want.items ?? want.buckets) === JSON.stringify(got.items ?? got.buckets);
      checks.set(
        c.name,
        `${same ? 'equal' : 'DIFFERENT'} (records only: ${((performance.now() - t) / 1000).toFixed(1)} s)`,
      );
    }
    for (const span of spans) {
      const checked = cases.filter((c) => c.check?.span === span.seconds);
      if (!checked.length) continue;
      const t = performance.now();
      const reference = await recordsAnswers(pool, scope(rangeOf(span.seconds, 0).from, rangeOf(span.seconds, 0).to));
      const sec = (performance.now() - t) / 1000;
      for (const c of checked) {
        const got = timings.find((x) => x.name === c.name)!.first as { buckets?: unknown; items?: unknown };
        const want =
          c.check!.kind === 'hist'
            ? reference.histogram
            : topOf(reference.keys.get(c.check!.by!) ?? [], c.check!.metric!, 10);
        const same = JSON.stringify(c.check!.kind === 'hist' ? got.buckets : got.items) === JSON.stringify(want);
        checks.set(
          c.name,
          `${same ? 'equal' : 'DIFFERENT'} (records only: ${sec.toFixed(1)} s for all of ${span.label})`,
        );
      }
    }

    const plans: { name: string; plan: PlanSummary; text: string }[] = [];
    for (const c of cases) {
      if (!c.name.startsWith('IP') && !/by bytes, (1|7) day|histogram \(60 buckets\), (1|7) day/.test(c.name)) continue;
      const examples = c.name.startsWith('IP') ? [0, 1] : [15];
      for (const i of examples) {
        const sql = c.sql(i);
        const label = c.name.startsWith('IP') ? `${c.name}, ${sample(i).kind} address ${sample(i).ip}` : c.name;
        plans.push({ name: label, plan: await explain(pool, sql, c.settings), text: sql.text });
      }
    }

    console.log('');
    console.log(
      `${set.records.toLocaleString('en')} records over ${set.days} days in one log topic; sequential requests through the HTTP API (fetch), warm-up excluded; latency in ms`,
    );
    const rows = timings.map((t) => {
      const c = cases.find((x) => x.name === t.name)!;
      const split = [...t.byKind]
        .map(([k, v]) => `${k} p50 ${median(v).toFixed(0)} / p95 ${pctl(v, 95).toFixed(0)}`)
        .join('; ');
      const p95 = pctl(t.ms, 95);
      return [
        t.name,
        String(t.ms.length),
        median(t.ms).toFixed(1),
        p95.toFixed(1),
        c.aim ? `${c.aim.text}: ${p95 <= c.aim.ms ? 'MET' : 'NOT MET'}` : '—',
        checks.get(c.name) ?? '—',
        `${t.resultNote}${split ? `; ${split}` : ''}`,
      ];
    });
    console.log(table(['query', 'requests', 'p50', 'p95', 'aim', 'answer vs records', 'notes'], rows));
    console.log(
      `rollups on disk: ${mib(rollups)} = ${((100 * rollups) / records).toFixed(2)} % of the records (heap and indexes, ${mib(records)}); aim ≤ 10 %: ${rollups <= records / 10 ? 'MET' : 'NOT MET'}`,
    );
    console.log(
      `rollup maintenance: ${set.rollupUsPerRecord.toFixed(1)} µs per OK record (the publisher's folds every 2 s of records and the seal, ${set.foldRecords.toLocaleString('en')} records of a slot); ` +
        `${set.lateUsPerRecord === undefined ? 'late records not measured (a data set loaded before; --rebuild-rollups measures them)' : `${set.lateUsPerRecord.toFixed(1)} µs per late record (the same records again after the seal)`}`,
    );
    console.log('');
    console.log(
      'EXPLAIN (ANALYZE, BUFFERS) of the statements the API runs (built with search.ts / analysis.ts), one example each:',
    );
    for (const p of plans) console.log(`\n  ${p.name}\n${formatPlan(p.plan)}`);
    const dir = defaultCacheDir();
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `query-plans-${Date.now()}.txt`);
    writeFileSync(file, plans.map((p) => `-- ${p.name}\n${p.text}\n\n${p.plan.full}\n`).join('\n'));
    console.log(`\nfull plans and SQL: ${file}`);
  } finally {
    await controlPlane.stop();
    await deleteTopics(kafka, prefix).catch((err: unknown) =>
      console.error(`could not delete the ${prefix}.* topics: ${String(err)}`),
    );
    await pool.end();
  }
}

type KeyTotals = { key: string | number | null; bytes: number; packets: number; flows: number };

/** Every key's totals (per TOP_KEYS dimension) and the 60-bucket histogram of the scope, from the records only, in one scan. */
async function recordsAnswers(
  pool: Pool,
  scope: RecordScope,
): Promise<{ keys: Map<string, KeyTotals[]>; histogram: unknown[] }> {
  const step = histogramStep(scope, { buckets: 60 });
  const sets = Object.values(TOP_KEYS)
    .map((k) => `(${k.sql})`)
    .join(', ');
  const params = new SqlParams();
  const where = `${scopeSql(scope, params)} AND log_status = 'OK'`;
  const [from, width] = [params.add(scope.from), params.add(step)];
  const bucket = `${from}::bigint + greatest(0, (window_start - ${from}::bigint) / ${width}::bigint) * ${width}::bigint`;
  const rows = await queryAsApi<Record<string, unknown> & { g: number[] }>(
    pool,
    {
      text: `SELECT ${Object.values(TOP_KEYS)
        .map((k) => `${k.sql} AS ${k.column}`)
        .join(
          ', ',
        )}, ${bucket} AS start, coalesce(sum(bytes), 0)::bigint AS bytes, coalesce(sum(packets), 0)::bigint AS packets, count(*) AS flows,
        ARRAY[${Object.values(TOP_KEYS)
          .map((k) => `GROUPING(${k.sql})`)
          .join(', ')}, GROUPING(${bucket})] AS g
        FROM (SELECT * FROM flow_records WHERE ${where}) AS r GROUP BY GROUPING SETS (${sets}, (${bucket}))`,
      values: params.values,
    },
    "SET LOCAL work_mem = '512MB'",
  );
  const names = Object.entries(TOP_KEYS);
  const keys = new Map<string, KeyTotals[]>();
  const buckets = new Map<number, KeyTotals>();
  for (const r of rows) {
    const i = r.g.indexOf(0);
    const totals = { bytes: Number(r.bytes), packets: Number(r.packets), flows: Number(r.flows) };
    if (i === names.length) buckets.set(Number(r.start), { key: null, ...totals });
    else {
      const [name, k] = names[i];
      if (!keys.has(name)) keys.set(name, []);
      keys.get(name)!.push({ key: r[k.column] as string | number | null, ...totals });
    }
  }
  const histogram = [];
  for (let start = scope.from; start < scope.to; start += step) {
    const b = buckets.get(start);
    histogram.push({ start, bytes: b?.bytes ?? 0, packets: b?.packets ?? 0, flows: b?.flows ?? 0 });
  }
  return { keys, histogram };
}

/** The first `limit` keys by the metric (ties by key, as the API orders them for these keys: no two tie in the checked cases' firsts). */
function topOf(keys: KeyTotals[], metric: 'bytes' | 'packets', limit: number): KeyTotals[] {
  return [...keys]
    .sort((a, b) => b[metric] - a[metric] || String(a.key).localeCompare(String(b.key)))
    .slice(0, limit)
    .map((k) => ({ key: k.key, bytes: k.bytes, packets: k.packets, flows: k.flows }));
}

async function deleteTopics(kafka: ReturnType<typeof createKafka>, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
