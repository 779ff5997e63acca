/**
 * The fault tests' harness: one scenario = a fresh database and topic prefix, the control plane
 * in-process, the aggregator and publisher as child processes (so they can be `kill -9`ed), a
 * generated capture of 1,000,000 packets replayed by the agent's own code, and a comparison of
 * what reached Postgres and the log topic's Kafka topic with the offline path's records.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Kafka, Producer, ProducerRecord } from 'kafkajs';
import { replayCapture, type ReplayProgress } from '@flowlogs/capture-agent';
import { recordFromRow, topicNames, type FlowRecord } from '@flowlogs/contracts';
import { ControlPlane, ControlPlaneConfig } from '@flowlogs/control-plane';
import { recordsFromCapture, type EniContext } from '@flowlogs/flow';
import { createKafka, reliableProducer } from '@flowlogs/kafka';
import { pino } from 'pino';
import { createRegistry } from '@flowlogs/runtime';
import { createTestDatabase, testLogger, uniquePrefix, type TestDatabase } from '@flowlogs/testkit';
import { ensureCapture, rng as prng, type CaptureStats } from '../../bench/lib/generate-capture.js';
import { freePort, parseMetrics } from '../../bench/lib/pipeline-services.js';

import { apiCaller, kill9, ROOT, spawnService, term, type ServiceProcess } from '../support/services.js';

export { kill9, ROOT, spawnService, term, type ServiceProcess };
export const OUT = join(ROOT, 'test-output', 'faults');
export const INTERVAL = 60;
const API_KEY = 'fault-test-admin-key-0123456789';
/** Packets per batch message of the replay: the agent's default (FLOWLOGS_BATCH_PACKETS) unless FAULT_BATCH_PACKETS is set. */
const REPLAY_BATCH_PACKETS = Number(process.env.FAULT_BATCH_PACKETS ?? 4096);
const REPLAY_TIMEOUT_MS = 180_000;

/** 1,000,000 packets, 3,000 conversations (6,000 one-way flow keys), 5 minutes of a fixed past date. */
export const CAPTURE_PARAMS = {
  packets: 1_000_000,
  flows: 3_000,
  durationSec: 300,
  ipv6Fraction: 0.1,
  seed: 7,
  startSec: 1_700_000_400,
};

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The seed of a scenario: FAULT_SEED when set (to replay a failure), else a fresh one; always printed. */
export function scenarioSeed(name: string): { seed: number; random: () => number } {
  const seed = process.env.FAULT_SEED
    ? Number(process.env.FAULT_SEED)
    : (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
  console.log(`[faults] ${name}: seed ${seed} (rerun with FAULT_SEED=${seed})`);
  return { seed, random: prng(seed) };
}

/** The capture, generated once into test-output/faults/ and reused (the benchmarks' generator). */
export function capture(): CaptureStats {
  mkdirSync(OUT, { recursive: true });
  const stats = ensureCapture(CAPTURE_PARAMS, OUT);
  if (stats.flowKeys < 5000 || stats.packets < 1_000_000)
    throw new Error(`capture too small: ${stats.packets} packets, ${stats.flowKeys} flow keys`);
  return stats;
}

// ---------------------------------------------------------------------------------------------
// Child processes

// ---------------------------------------------------------------------------------------------
// A scenario

export interface Scenario {
  name: string;
  dir: string;
  brokers: string[];
  prefix: string;
  db: TestDatabase;
  kafka: Kafka;
  env: NodeJS.ProcessEnv;
  eni: EniContext;
  logTopicId: string;
  kafkaTopic: string;
  capture: CaptureStats;
  expected: FlowRecord[];
  processes: ServiceProcess[];
  start(service: 'aggregator' | 'publisher', name?: string, env?: NodeJS.ProcessEnv): ServiceProcess;
  /** Started with a /metrics port of its own (see metricsSampler). */
  startObserved(service: 'aggregator' | 'publisher', name: string): Promise<ServiceProcess>;
  /**
   * Replays the capture; onProgress sees the frames read so far. At full speed, or paced at
   * `batchesPerSecond` packet batches a second (traffic that goes on while a fault happens).
   */
  replay(onProgress?: (p: ReplayProgress) => void, o?: { batchesPerSecond?: number }): Promise<void>;
  pgCount(): Promise<number>;
  note(msg: string): void;
  /** Kills every child and drops the database. */
  close(): Promise<void>;
}

/** The services' replication on a cluster of three: one broker may die and every write still needs two copies. */
export const CLUSTER_ENV = { KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2' };

export async function openScenario(
  name: string,
  brokers: string[],
  opts: { start?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<Scenario> {
  const dir = join(OUT, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const stats = capture();
  const log = testLogger();
  const prefix = uniquePrefix();
  const db = await createTestDatabase();
  const env: NodeJS.ProcessEnv = {
    KAFKA_BROKERS: brokers.join(','),
    FLOWLOGS_TOPIC_PREFIX: prefix,
    DATABASE_URL: db.url,
    METRICS_PORT: '0',
    FLOWLOGS_IDLE_CLOSE_MS: '1000',
    LOG_LEVEL: process.env.FAULT_LOG_LEVEL ?? 'warn',
    FLOWLOGS_API_KEY: API_KEY,
    HTTP_PORT: '0',
    ...opts.env,
  };
  const kafka = createKafka(brokers, `faults-${name}`, log);
  const controlPlane = new ControlPlane({
    config: ControlPlaneConfig.parse(env),
    log,
    kafka,
    pool: db.pool,
    registry: createRegistry('control-plane'),
  });
  await controlPlane.start();
  const api = apiCaller(controlPlane.url, API_KEY);
  const vpc = await api('POST', '/v1/vpcs', { name: 'prod', cidrBlock: '10.0.0.0/16' });
  const subnet = await api('POST', '/v1/subnets', { vpcId: vpc.id, name: 'web', cidrBlock: '10.0.0.0/24' });
  const eniRes = await api('POST', '/v1/network-interfaces', {
    subnetId: subnet.id,
    name: 'cvm-a',
    primaryIp: '10.0.0.10',
  });
  const logset = await api('POST', '/v1/logsets', { name: 'audit' });
  const topic = await api('POST', '/v1/log-topics', { logsetId: logset.id, name: 'flows' });
  await api('POST', '/v1/flow-logs', {
    name: 'all',
    resourceType: 'NETWORKINTERFACE',
    resourceId: eniRes.id,
    trafficType: 'ALL',
    logTopicId: topic.id,
    aggregationInterval: INTERVAL,
  });
  const eni: EniContext = { eniId: eniRes.id, accountId: eniRes.accountId, vpcId: vpc.id, subnetId: subnet.id };
  const { secret } = await api('POST', `/v1/network-interfaces/${eniRes.id}/agent`, { agentId: 'faults' });
  const expected = (await recordsFromCapture(stats.path, { interval: INTERVAL, eni })).records;

  const notes = join(dir, 'scenario.log');
  const note = (msg: string) => {
    const line = `${new Date().toISOString()} ${msg}`;
    appendFileSync(notes, `${line}\n`);
    console.log(`[faults] ${name}: ${msg}`);
  };
  const counters = new Map<string, number>();
  const processes: ServiceProcess[] = [];
  const scenario: Scenario = {
    name,
    dir,
    brokers,
    prefix,
    db,
    kafka,
    env,
    eni,
    logTopicId: topic.id,
    kafkaTopic: topic.kafkaTopic,
    capture: stats,
    expected,
    processes,
    start(service, procName, more) {
      const n = (counters.get(service) ?? 0) + 1;
      counters.set(service, n);
      const p = spawnService(dir, service, procName ?? `${service}-${n}`, { ...env, ...more });
      processes.push(p);
      note(`started ${p.name} (pid ${p.child.pid})`);
      return p;
    },
    async startObserved(service, procName) {
      const port = await freePort();
      const p = scenario.start(service, procName, { METRICS_PORT: String(port) });
      p.metricsUrl = `http://127.0.0.1:${port}/metrics`;
      return p;
    },
    async replay(onProgress, o) {
      // The agent's own log goes to <dir>/agent.log (warnings: e.g. a send that fails and is retried).
      const agentLog = pino({ level: 'warn' }, pino.destination({ dest: join(dir, 'agent.log'), sync: true }));
      const producer = reliableProducer(createKafka(brokers, `faults-${name}-agent`, agentLog));
      await producer.connect();
      const sender = o?.batchesPerSecond ? paced(producer, o.batchesPerSecond) : producer;
      const abort = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const started = Date.now();
      try {
        await Promise.race([
          replayCapture({
            producer: sender,
            topic: topicNames(prefix).packets,
            log: agentLog,
            eni,
            agentId: 'faults',
            secret,
            path: stats.path,
            speed: 'max',
            rebase: false,
            batchPackets: REPLAY_BATCH_PACKETS,
            onProgress,
            signal: abort.signal,
          }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new Error(
                    `the replay did not finish within ${REPLAY_TIMEOUT_MS / 1000} s; see ${join(dir, 'agent.log')}`,
                  ),
                ),
              REPLAY_TIMEOUT_MS,
            );
          }),
        ]);
        note(`replay done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } finally {
        clearTimeout(timer);
        abort.abort();
        await producer.disconnect().catch(() => {});
      }
    },
    async pgCount() {
      const { rows } = await db.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM flow_records WHERE log_topic_id = $1',
        [topic.id],
      );
      return rows[0].n;
    },
    note,
    async close() {
      await Promise.all(processes.map((p) => kill9(p)));
      await controlPlane.stop().catch(() => {});
      await db.drop().catch((err) => note(`dropping the database failed: ${(err as Error).message}`));
    },
  };
  note(
    `replay batches of ${REPLAY_BATCH_PACKETS} packets; prefix ${prefix}, database ${new URL(db.url).pathname.slice(1)}, log topic ${topic.id}, ENI ${eni.eniId}; ${expected.length} records expected from ${stats.packets} packets, ${stats.flowKeys} flow keys`,
  );
  if (opts.start !== false) {
    scenario.start('aggregator');
    scenario.start('publisher');
  }
  return scenario;
}

/** The producer, its sends held back so that no more than `perSecond` messages a second go out. */
function paced(producer: Producer, perSecond: number): Producer {
  const started = Date.now();
  let messages = 0;
  return new Proxy(producer, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver);
      return async (record: ProducerRecord) => {
        messages += record.messages.length;
        await sleep(started + (1000 * messages) / perSecond - Date.now());
        return target.send(record);
      };
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Waiting

/**
 * Polls `count` until it reaches `target` (then waits `settleMs` more, for anything extra), stops
 * changing for `stallMs`, or `timeoutMs` passes. Returns the last count.
 */
export async function waitForCount(
  what: string,
  count: () => Promise<number>,
  target: number,
  o: { timeoutMs?: number; stallMs?: number; settleMs?: number; note?: (m: string) => void } = {},
): Promise<number> {
  const timeoutMs = o.timeoutMs ?? 180_000;
  const stallMs = o.stallMs ?? 60_000;
  const started = Date.now();
  let last = -1;
  let changedAt = Date.now();
  for (;;) {
    const n = await count().catch(() => last);
    if (n !== last) {
      last = n;
      changedAt = Date.now();
    }
    if (n >= target) {
      await sleep(o.settleMs ?? 3000);
      const final = await count().catch(() => n);
      o.note?.(`${what}: ${final} of ${target} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return final;
    }
    if (Date.now() - changedAt > stallMs) {
      o.note?.(`${what}: stalled at ${n} of ${target} for ${stallMs / 1000} s`);
      return n;
    }
    if (Date.now() - started > timeoutMs) {
      o.note?.(`${what}: timed out at ${n} of ${target}`);
      return n;
    }
    await sleep(500);
  }
}

/** Resolves once `fn` returns true (polled every 200 ms); false after `timeoutMs`. */
export async function when(fn: () => Promise<boolean> | boolean, timeoutMs = 180_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(fn)
        .catch(() => false)
    )
      return true;
    await sleep(200);
  }
  return false;
}

/**
 * The services' counters, scraped every 250 ms from each observed process while it runs: `total`
 * sums each process's last answer, so a process stopped gracefully counts with what it reported
 * last (its /metrics closes last, once its consumer has stopped).
 */
export function metricsSampler(processes: () => ServiceProcess[]) {
  const last = new Map<ServiceProcess, Map<string, number>>();
  let running = true;
  const loop = (async () => {
    while (running) {
      await Promise.all(
        processes()
          .filter((p) => p.metricsUrl && p.alive())
          .map(async (p) => {
            const res = await fetch(p.metricsUrl!, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
            if (res?.ok) last.set(p, parseMetrics(await res.text()));
          }),
      );
      await sleep(250);
    }
  })();
  return {
    /** One process's last value of a metric (summed over its labels). */
    of: (p: ServiceProcess, name: string) => last.get(p)?.get(name) ?? 0,
    total: (name: string) => [...last.values()].reduce((n, m) => n + (m.get(name) ?? 0), 0),
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (0 when unavailable). */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading what the pipeline produced

export async function pgRecords(s: Scenario): Promise<FlowRecord[]> {
  const { rows } = await s.db.pool.query('SELECT * FROM flow_records WHERE log_topic_id = $1', [s.logTopicId]);
  return rows.map(recordFromRow);
}

/**
 * The log topic's Kafka topic from the beginning, read_committed, until `target` records have come (and
 * a settle time) or it stalls. Each message counts once, by its partition and offset: the reader is a
 * kafkajs consumer, which can fetch messages again after a fetch fails or its group rebalances (the
 * brokers of a rolling restart may still be settling); a record twice on the topic is two offsets.
 */
export async function kafkaRecords(
  s: Scenario,
  target: number,
): Promise<{ records: FlowRecord[]; headerMismatches: number; readAgain: number }> {
  const consumer = s.kafka.consumer({
    groupId: `${s.prefix}.faults-reader.${Date.now()}`,
    readUncommitted: false,
    maxWaitTimeInMs: 500,
  });
  const records: FlowRecord[] = [];
  const read = new Set<string>();
  let headerMismatches = 0;
  let readAgain = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: s.kafkaTopic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const at = `${batch.partition}:${m.offset}`;
          if (read.has(at)) {
            readAgain++;
            continue;
          }
          read.add(at);
          const r = JSON.parse(m.value!.toString()) as FlowRecord;
          if (m.headers?.['flowlogs-record-id']?.toString() !== r.recordId) headerMismatches++;
          records.push(r);
        }
      },
    });
    await waitForCount('records on the log topic', async () => records.length, target, {
      timeoutMs: 120_000,
      stallMs: 30_000,
      settleMs: 5000,
      note: s.note,
    });
  } finally {
    await consumer.disconnect().catch(() => {});
  }
  return { records, headerMismatches, readAgain };
}

/** Messages on the DLQ topic (high watermark sum; 0 when the topic does not exist). */
export async function dlqMessages(s: Scenario): Promise<number> {
  const admin = s.kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topicNames(s.prefix).dlq);
    return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  } catch {
    return 0;
  } finally {
    await admin.disconnect();
  }
}

/** Consumer-group positions, for the diagnosis of a failure. */
export async function groupPositions(s: Scenario): Promise<string> {
  const admin = s.kafka.admin();
  await admin.connect();
  const names = topicNames(s.prefix);
  const lines: string[] = [];
  try {
    for (const [group, topic] of [
      [`${s.prefix}.aggregator`, names.packets],
      [`${s.prefix}.publisher`, names.records],
    ] as const) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const parts = ends.map(
        (e) =>
          `p${e.partition} committed ${committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '?'} / high ${e.high}`,
      );
      lines.push(`${group} on ${topic}: ${parts.join(', ')}`);
    }
  } catch (err) {
    lines.push(`positions unavailable: ${(err as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Comparing

function flowKey(r: FlowRecord): string {
  return [r.interfaceId, r.srcaddr, r.dstaddr, r.srcport, r.dstport, r.protocol, r.action, r.windowStart].join(' ');
}

function counters(r: FlowRecord): string {
  return [r.packets, r.bytes, r.start, r.end, r.windowEnd, r.logStatus, r.tcpFlags, r.type, r.flowDirection].join(' ');
}

export interface Diff {
  expected: number;
  actual: number;
  missing: number;
  duplicated: number;
  unexpected: number;
  differing: number;
  duplicateRecordIds: number;
  /** Per window start: missing / duplicated / differing / unexpected. */
  byWindow: Record<string, { missing: number; duplicated: number; differing: number; unexpected: number }>;
  examples: string[];
}

/** Compares records as multisets keyed by (flow key, window) with their counters. */
export function compare(expected: FlowRecord[], actual: FlowRecord[]): Diff {
  const want = new Map<string, string>();
  for (const r of expected) want.set(flowKey(r), counters(r));
  const got = new Map<string, FlowRecord[]>();
  for (const r of actual) {
    const k = flowKey(r);
    const list = got.get(k);
    if (list) list.push(r);
    else got.set(k, [r]);
  }
  const diff: Diff = {
    expected: expected.length,
    actual: actual.length,
    missing: 0,
    duplicated: 0,
    unexpected: 0,
    differing: 0,
    duplicateRecordIds: 0,
    byWindow: {},
    examples: [],
  };
  const win = (k: string) => {
    const start = Number(k.split(' ').pop());
    const w = `${start} (${new Date(start * 1000).toISOString().slice(11, 19)}Z)`;
    return (diff.byWindow[w] ??= { missing: 0, duplicated: 0, differing: 0, unexpected: 0 });
  };
  const shown = new Map<string, number>();
  const example = (m: string) => {
    const kind = m.split(':')[0];
    const n = shown.get(kind) ?? 0;
    if (n < 3) {
      diff.examples.push(m);
      shown.set(kind, n + 1);
    }
  };
  for (const [k, c] of want) {
    const list = got.get(k);
    if (!list) {
      diff.missing++;
      win(k).missing++;
      example(`missing: ${k} (${c})`);
      continue;
    }
    if (list.length > 1) {
      diff.duplicated += list.length - 1;
      win(k).duplicated += list.length - 1;
      example(`x${list.length}: ${k} ${list.map(counters).join(' | ')}`);
    }
    const wrong = list.filter((r) => counters(r) !== c);
    if (wrong.length) {
      diff.differing++;
      win(k).differing++;
      example(`differs: ${k} want ${c} got ${wrong.map(counters).join(' | ')}`);
    }
  }
  for (const [k, list] of got) {
    if (!want.has(k)) {
      diff.unexpected += list.length;
      win(k).unexpected += list.length;
      example(`unexpected: ${k} ${list.map(counters).join(' | ')}`);
    }
  }
  diff.duplicateRecordIds = actual.length - new Set(actual.map((r) => r.recordId)).size;
  return diff;
}

export function diffIsEmpty(d: Diff): boolean {
  return (
    !d.missing && !d.duplicated && !d.unexpected && !d.differing && !d.duplicateRecordIds && d.actual === d.expected
  );
}

/**
 * The service logs, summarised: the harness's markers (start, kill, exit) as they are, the JSON log
 * lines (LOG_LEVEL=warn: warnings and errors) grouped by level and message with a count and the
 * first and last time.
 */
export function serviceLogs(s: Scenario): string {
  const out: string[] = [];
  for (const file of [...new Set(s.processes.map((p) => p.logFile)), join(s.dir, 'agent.log')]) {
    if (!existsSync(file)) continue;
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const groups = new Map<string, { n: number; first: string; last: string }>();
    const shown: string[] = [];
    for (const line of lines) {
      if (!line.startsWith('{')) {
        shown.push(line);
        continue;
      }
      let key = line.slice(0, 300);
      let time = '';
      try {
        const j = JSON.parse(line) as {
          level?: number;
          time?: number;
          msg?: string;
          err?: { message?: string } | string;
          error?: string;
          partition?: number;
          rewindTo?: number;
        };
        const err = typeof j.err === 'string' ? j.err : (j.err?.message ?? j.error ?? '');
        key = `level ${j.level} ${j.msg ?? ''}${err ? ` — ${err}` : ''}${j.partition !== undefined ? ` (partition ${j.partition}${j.rewindTo !== undefined ? `, rewindTo ${j.rewindTo}` : ''})` : ''}`;
        time = j.time ? new Date(j.time).toISOString().slice(11, 23) : '';
      } catch {
        /* not JSON */
      }
      const g = groups.get(key);
      if (g) {
        g.n++;
        g.last = time;
      } else {
        groups.set(key, { n: 1, first: time, last: time });
        shown.push(key);
      }
    }
    out.push(
      `== ${file} (${lines.length} lines)`,
      ...shown.map((k) => {
        const g = groups.get(k);
        return g ? `  ${g.n}× [${g.first}…${g.last}] ${k}` : `  ${k}`;
      }),
    );
  }
  return out.join('\n');
}

/**
 * The checks every scenario ends with: Postgres and the log topic each equal to the offline
 * records. Writes the report to <dir>/result.json and returns a message for the assertion.
 */
export async function verify(s: Scenario, started: number): Promise<{ ok: boolean; report: string }> {
  const target = s.expected.length;
  await waitForCount('records in Postgres', () => s.pgCount(), target, { note: s.note });
  const inPg = await pgRecords(s);
  const kafka = await kafkaRecords(s, target);
  const pgDiff = compare(s.expected, inPg);
  const kafkaDiff = compare(s.expected, kafka.records);
  const dlq = await dlqMessages(s);
  const positions = await groupPositions(s);
  const ok = diffIsEmpty(pgDiff) && diffIsEmpty(kafkaDiff) && kafka.headerMismatches === 0 && dlq === 0;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const summary = (d: Diff) =>
    `${d.actual}/${d.expected} records; missing ${d.missing}, duplicated ${d.duplicated}, differing ${d.differing}, unexpected ${d.unexpected}, duplicate recordIds ${d.duplicateRecordIds}`;
  const report = [
    `${s.name}: ${ok ? 'PASS' : 'FAIL'} in ${seconds} s`,
    `Postgres:  ${summary(pgDiff)}`,
    ...(diffIsEmpty(pgDiff)
      ? []
      : [`  by window: ${JSON.stringify(pgDiff.byWindow)}`, ...pgDiff.examples.map((e) => `  ${e}`)]),
    `Log topic: ${summary(kafkaDiff)}; header/recordId mismatches ${kafka.headerMismatches}; messages the reader fetched again ${kafka.readAgain}`,
    ...(diffIsEmpty(kafkaDiff)
      ? []
      : [`  by window: ${JSON.stringify(kafkaDiff.byWindow)}`, ...kafkaDiff.examples.map((e) => `  ${e}`)]),
    `DLQ messages: ${dlq}`,
    positions,
  ].join('\n');
  s.note(report);
  appendFileSync(join(s.dir, 'result.txt'), `${report}\n${serviceLogs(s)}\n`);
  return { ok, report: ok ? report : `${report}\n${serviceLogs(s)}` };
}
