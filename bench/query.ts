/**
 * Query benchmark: search and analysis latency through the HTTP API over a large log topic.
 *
 *   npm run bench:query -- [--records N] [--reload] [--requests N] [--agg-requests N] [--only ip|top|hist]
 *
 * Loads N flow records (default 10,000,000; see lib/query-data.ts for their shape) into one log
 * topic of the database flowlogs_bench_query (DATABASE_URL's server; kept between runs and reused
 * while the generator and row count match; --reload forces a new load), runs the control plane
 * in-process against it (Kafka on KAFKA_BROKERS, started with `npx flowlogs-kafka start` when none
 * answers, a topic prefix of its own, deleted at the end) and times sequential requests with fetch,
 * warm-up excluded: IP search over an hour and over a day (q=<ip>, limit 100; different addresses
 * drawn from the data, half top talkers, half tail), top-10 source addresses by bytes over a day,
 * and a 60-bucket histogram over a day. For one example of each it prints EXPLAIN (ANALYZE,
 * BUFFERS) of the statement the API runs, built with the control plane's own SQL builders. The top-10
 * (whole hours from the hourly rollup, the edge hours from the records) is checked once against the
 * same query over the records only, which is timed too.
 * Indexes made by hand on flow_records in that database (to try them) are listed and used.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createPool, ensureDatabase, migrate, type Pool } from '@flowlogs/db';
import { createKafka } from '@flowlogs/kafka';
import { createLogger, createRegistry } from '@flowlogs/runtime';
import { ControlPlane, ControlPlaneConfig } from '@flowlogs/control-plane';
import { histogramSql, histogramStep, TOP_SETTINGS, topSql } from '../services/control-plane/src/analysis.js';
import { parseQuery } from '../services/control-plane/src/query/index.js';
import { recordScope, recordSearch, recordSearchSql, type RecordScope } from '../services/control-plane/src/search.js';
import { defaultCacheDir } from './lib/generate-capture.js';
import { median, mib, table } from './lib/measure.js';
import { ensureKafka } from './lib/pipeline-services.js';
import {
  countRecords,
  extraIndexes,
  GENERATOR_VERSION,
  loadDataSet,
  readDataSet,
  relationSizes,
  SPAN,
  T0,
  type DataSet,
} from './lib/query-data.js';
import { explain, formatPlan, queryAsApi, type PlanSummary } from './lib/query-plans.js';
import { intOption } from './lib/args.js';

const API_KEY = 'bench-query-admin-key-0123456789';
const DB_NAME = 'flowlogs_bench_query';
const HOUR = 3600;
const DAY = 86_400;
const WARMUP = 5;

interface Options {
  records: number;
  reload: boolean;
  requests: number;
  aggRequests: number;
  only?: 'ip' | 'top' | 'hist';
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { records: 10_000_000, reload: false, requests: 50, aggRequests: 20 };
  const int = (i: number, name: string, min = 1) => intOption(argv, i, name, min);
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
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
          `unknown argument ${argv[i]} (--records N, --reload, --requests N, --agg-requests N, --only ip|top|hist)`,
        );
    }
  }
  return opts;
}

function databaseUrl(): string {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/flowlogs');
  url.pathname = `/${DB_NAME}`;
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
}

interface Timing {
  name: string;
  ms: number[];
  byKind: Map<string, number[]>;
  resultNote: string;
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
    return { ms, body: JSON.parse(body) as Record<string, unknown[]> };
  };
  for (let i = 0; i < WARMUP; i++) await get(c.request(c.count + i).path);
  const ms: number[] = [];
  const byKind = new Map<string, number[]>();
  const sizes: number[] = [];
  for (let i = 0; i < c.count; i++) {
    const { path, kind } = c.request(i);
    const r = await get(path);
    ms.push(r.ms);
    if (kind) byKind.set(kind, [...(byKind.get(kind) ?? []), r.ms]);
    const list = r.body.records ?? r.body.items ?? r.body.buckets ?? [];
    sizes.push(list.length);
  }
  return { name: c.name, ms, byKind, resultNote: `${Math.min(...sizes)}–${Math.max(...sizes)} items` };
}

function machine(): string {
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; Node ${process.version}`;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const dbUrl = databaseUrl();
  console.log(`machine: ${machine()}`);
  await ensureDatabase(dbUrl);
  const pool = createPool(dbUrl, 4);
  await migrate(pool);
  const pg = await pool.query<{ v: string; sb: string; wm: string; pw: string }>(
    "SELECT current_setting('server_version') AS v, current_setting('shared_buffers') AS sb, current_setting('work_mem') AS wm, current_setting('max_parallel_workers_per_gather') AS pw",
  );
  console.log(
    `postgres ${pg.rows[0].v}: shared_buffers ${pg.rows[0].sb}, work_mem ${pg.rows[0].wm}, max_parallel_workers_per_gather ${pg.rows[0].pw}; database ${DB_NAME}`,
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
      data.logTopicId === ids.logTopicId;
    if (reuse) {
      const t = performance.now();
      const n = await countRecords(pool, ids.logTopicId);
      reuse = n === opts.records;
      console.log(
        `data set: ${n.toLocaleString('en')} rows counted in ${((performance.now() - t) / 1000).toFixed(1)} s — ${reuse ? `reused (loaded ${data!.loadedAt} in ${data!.loadSec.toFixed(0)} s)` : 'does not match, reloading'}`,
      );
    }
    if (!reuse) {
      console.log(`data set: loading ${opts.records.toLocaleString('en')} records${opts.reload ? ' (--reload)' : ''}…`);
      data = await loadDataSet(pool, opts.records, ids);
      console.log(`data set: loaded in ${data.loadSec.toFixed(0)} s`);
    }
    const set = data!;
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
    console.log(
      `  ${set.records.toLocaleString('en')} records, log topic ${set.logTopicId} (account ${set.accountId}), windows of 60 s from ${new Date(T0 * 1000).toISOString()} for 36 h; ` +
        `heap ${mib(sizes.heap)}, indexes ${mib(sizes.indexes)} (${sizes.perIndex.map((i) => `${i.name} ${mib(i.bytes)}`).join(', ')}); ` +
        `hourly rollup ${mib(sizes.rollup.bytes)} with its indexes, ~${sizes.rollup.rows.toLocaleString('en')} rows`,
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
    // "A day": the last 24 h of the data (both day partitions); "an hour": a different hour inside it per request.
    const dayFrom = T0 + SPAN - DAY;
    const dayTo = T0 + SPAN;
    const hourFrom = (i: number) => dayFrom + ((i * 7919) % (DAY / HOUR - 1)) * HOUR + ((i * 13) % 60) * 60;
    // Aggregations: the day range moved by a few minutes per request, so no two are the same statement.
    const aggFrom = (i: number) => dayFrom - (i % 30) * 60;
    const scope = (from: number, to: number, q?: string) =>
      recordScope(set.logTopicId, set.accountId, { from, to, q: q === undefined ? undefined : parseQuery(q) }, dayTo);
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
          path: `records?q=${sample(i).ip}&from=${dayFrom}&to=${dayTo}&limit=100`,
          kind: sample(i).kind,
        }),
        sql: (i) => searchSql(dayFrom, dayTo, sample(i).ip),
      });
    }
    if (!opts.only || opts.only === 'top') {
      cases.push({
        name: 'top-10 srcaddr by bytes, 1 day',
        aim: { ms: 1000, text: 'p95 < 1 s' },
        count: opts.aggRequests,
        request: (i) => ({
          path: `analysis/top?by=srcaddr&metric=bytes&limit=10&from=${aggFrom(i)}&to=${aggFrom(i) + DAY}`,
        }),
        sql: (i) => topSql(scope(aggFrom(i), aggFrom(i) + DAY), { by: 'srcaddr', metric: 'bytes', limit: 10 }),
        settings: TOP_SETTINGS,
      });
    }
    if (!opts.only || opts.only === 'hist') {
      cases.push({
        name: 'histogram (60 buckets), 1 day',
        count: opts.aggRequests,
        request: (i) => ({ path: `analysis/histogram?buckets=60&from=${aggFrom(i)}&to=${aggFrom(i) + DAY}` }),
        sql: (i) => {
          const sc = scope(aggFrom(i), aggFrom(i) + DAY);
          return histogramSql(sc, histogramStep(sc, { buckets: 60 }));
        },
      });
    }

    const timings: Timing[] = [];
    for (const c of cases) {
      const t = await timeCase(controlPlane.url, set.logTopicId, c);
      timings.push(t);
      console.log(
        `${c.name}: ${c.count} requests after ${WARMUP} warm-up, p50 ${median(t.ms).toFixed(1)} ms, p95 ${pctl(t.ms, 95).toFixed(1)} ms, max ${Math.max(...t.ms).toFixed(1)} ms`,
      );
    }

    const topCheck = cases.some((c) => c.name.startsWith('top'))
      ? await checkTop(pool, scope(aggFrom(1), aggFrom(1) + DAY))
      : undefined;

    // One example of each (a top talker and a tail address for the searches; a day from 15 min before
    // an hour for the aggregations, so partial hours at both ends), with the API's SQL.
    const plans: { name: string; plan: PlanSummary; text: string }[] = [];
    for (const c of cases) {
      const examples = c.name.startsWith('IP') ? [0, 1] : [15];
      for (const i of examples) {
        const sql = c.sql(i);
        const label = c.name.startsWith('IP') ? `${c.name}, ${sample(i).kind} address ${sample(i).ip}` : c.name;
        plans.push({ name: label, plan: await explain(pool, sql, c.settings), text: sql.text });
      }
    }

    console.log('');
    console.log(
      `${set.records.toLocaleString('en')} records in one log topic; sequential requests through the HTTP API (fetch), warm-up excluded; latency in ms`,
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
        Math.max(...t.ms).toFixed(1),
        c.aim ? `${c.aim.text}: ${p95 < c.aim.ms ? 'MET' : 'NOT MET'}` : '—',
        `${t.resultNote}${split ? `; ${split}` : ''}`,
      ];
    });
    console.log(table(['query', 'requests', 'p50', 'p95', 'max', 'aim', 'notes'], rows));
    if (topCheck) {
      console.log(
        `top-10 with the rollup ${topCheck.same ? 'equals' : 'DIFFERS FROM'} the answer from the records only, which took ${(topCheck.recordsMs / 1000).toFixed(1)} s (once, Postgres only)`,
      );
    }
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

/** The top-10 of a day through the rollup and from the records only: the same answer? and the time of the latter. */
async function checkTop(pool: Pool, scope: RecordScope): Promise<{ same: boolean; recordsMs: number }> {
  const query = { by: 'srcaddr', metric: 'bytes', limit: 10 } as const;
  const viaRollup = await queryAsApi(pool, topSql(scope, query), TOP_SETTINGS);
  const t = performance.now();
  const fromRecords = await queryAsApi(pool, topSql(scope, query, { rollup: false }), TOP_SETTINGS);
  return { same: JSON.stringify(viaRollup) === JSON.stringify(fromRecords), recordsMs: performance.now() - t };
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
