/**
 * The two measured phases of the pipeline benchmark, against services already running:
 *
 *  throughput – an agent child replays a large capture at full speed (speed "max", original
 *               timestamps) for ENI A, whose flow log has 60-second windows. /metrics of agent,
 *               aggregator and publisher are scraped every `sampleMs` until every packet is
 *               counted by the aggregator, no flow is left open and the publisher has stored as
 *               many records as the aggregator emitted (Postgres checked), then until it has folded
 *               them all into the rollups; then the benchmark seals their slots itself (the
 *               publisher's own fold, run at once instead of 5 min after a slot's last record).
 *  latency    – an agent child replays a short capture at capture speed, rebased so each packet is
 *               stamped when it is sent, for ENI B, whose flow log has 10-second windows; Postgres is
 *               polled (`GROUP BY window_start`) every `pollMs` for when each window's last record
 *               appears.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from '@flowlogs/db';
import { foldRollup } from '../../services/publisher/src/store.js';
import type { BackendCpu } from './backend-cpu.js';
import {
  machineCpuSec,
  procCpuSec,
  scrape,
  startService,
  stopService,
  waitReady,
  type Metrics,
  type Service,
} from './pipeline-services.js';

export interface EniSetup {
  eniId: string;
  accountId: string;
  vpcId: string;
  subnetId: string;
  primaryIp: string;
  flowLogId: string;
}

export interface AgentLaunch {
  baseEnv: Record<string, string>;
  metricsPort: number;
  logDir: string;
  name: string;
  eni: Pick<EniSetup, 'eniId' | 'subnetId' | 'primaryIp'> & Partial<EniSetup>;
  /** The ENI's source in the agent's config file (bench/live.ts: a live interface). */
  source: Record<string, unknown>;
  /** Node options of the agent's process (the benchmark's --profile). */
  nodeArgs?: string[];
}

export function startAgent(a: AgentLaunch): Service {
  const configPath = join(a.logDir, `${a.name}.json`);
  const { eniId, accountId, vpcId, subnetId, primaryIp } = a.eni;
  writeFileSync(
    configPath,
    JSON.stringify(
      {
        enis: [
          {
            id: eniId,
            accountId,
            vpcId,
            subnetId,
            primaryIp,
            source: a.source,
          },
        ],
      },
      null,
      2,
    ),
  );
  return startService(
    'capture-agent',
    a.name,
    {
      ...a.baseEnv,
      FLOWLOGS_AGENT_CONFIG: configPath,
      FLOWLOGS_AGENT_ID: `bench-${a.name}`,
      METRICS_PORT: String(a.metricsPort),
    },
    a.metricsPort,
    a.logDir,
    a.nodeArgs,
  );
}

const now = () => Date.now() / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A metric's value: 0 when the service answered without it (a labelled counter not yet incremented), NaN when it did not answer. */
const get = (m: Metrics | undefined, name: string) => (m ? (m.get(name) ?? 0) : NaN);

export interface Sample {
  /** When the scrape was sent / when its last answer came back (unix s). */
  t0: number;
  t1: number;
  agentPackets: number;
  aggPackets: number;
  aggRecords: number;
  /** Kafka transactions the aggregator committed. */
  aggTransactions: number;
  aggSkipped: number;
  activeFlows: number;
  pubRecords: number;
  /** Of the records folded into the rollups, those of slots already sealed (late). */
  pubLate: number;
  aggRss: number;
  aggHeap: number;
  /** Memory outside the V8 heap: array buffers (the flow table) and Buffers. */
  aggExternal: number;
  agentRss: number;
  pubRss: number;
  cpu: {
    agent: number;
    aggregator: number;
    publisher: number;
    broker: number;
    postgres: number;
    machineBusy: number;
    machineTotal: number;
  };
}

export interface ThroughputResult {
  packets: number;
  /** When the first packet was sent: at first the last /metrics sample without packets queued by the agent (an earlier bound). */
  tStart: number;
  startSource: string;
  tAgentDone: number;
  tAggDone: number;
  tStored: number;
  /** When the publisher had folded every stored record into the rollups and sealed their slots. */
  tFolded: number;
  records: number;
  storedRows: number;
  storedPackets: number;
  storedBytes: number;
  skipped: number;
  samples: Sample[];
  peak: Sample;
  maxRss: { agent: number; aggregator: number; publisher: number };
}

export interface Services {
  aggregator: Service;
  publisher: Service;
  brokerPid?: number;
  /** The backends of the run's database (not the whole shared server). */
  postgres: BackendCpu;
}

async function takeSample(agent: Service, s: Services): Promise<Sample> {
  const t0 = now();
  const [a, g, p] = await Promise.all([scrape(agent), scrape(s.aggregator), scrape(s.publisher)]);
  const t1 = now();
  const machine = machineCpuSec();
  return {
    t0,
    t1,
    agentPackets: get(a, 'flowlogs_agent_packets_total'),
    aggPackets: get(g, 'flowlogs_aggregator_packets_total'),
    aggRecords: get(g, 'flowlogs_aggregator_records_total'),
    aggTransactions: get(g, 'flowlogs_aggregator_transactions_total'),
    aggSkipped: get(g, 'flowlogs_aggregator_skipped_packets_total'),
    activeFlows: get(g, 'flowlogs_aggregator_active_flows'),
    pubRecords: get(p, 'flowlogs_publisher_records_total'),
    pubLate: get(p, 'flowlogs_publisher_rollup_late_records_total'),
    aggRss: get(g, 'process_resident_memory_bytes'),
    aggHeap: get(g, 'nodejs_heap_size_used_bytes'),
    aggExternal: get(g, 'nodejs_external_memory_bytes'),
    agentRss: get(a, 'process_resident_memory_bytes'),
    pubRss: get(p, 'process_resident_memory_bytes'),
    cpu: {
      agent: get(a, 'process_cpu_seconds_total'),
      aggregator: get(g, 'process_cpu_seconds_total'),
      publisher: get(p, 'process_cpu_seconds_total'),
      broker: s.brokerPid ? (procCpuSec(s.brokerPid) ?? NaN) : NaN,
      postgres: s.postgres.sample(),
      machineBusy: machine.busy,
      machineTotal: machine.total,
    },
  };
}

/**
 * Whether stored records wait to be folded into the rollups (rollupsPending), or to be folded or
 * their slots sealed (rollupsDue); the run's database holds this phase's only. EXISTS: a count of
 * the pending rows, dead ones included, took 20 ms of the run's Postgres CPU a poll.
 */
const rollupsPending = async (pool: Pool) =>
  (await pool.query<{ due: boolean }>('SELECT EXISTS (SELECT 1 FROM flow_rollup_pending) AS due')).rows[0].due;
const rollupsDue = async (pool: Pool) =>
  (
    await pool.query<{ due: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM flow_rollup_pending) OR EXISTS (SELECT 1 FROM flow_rollup_slot_rest WHERE NOT sealed) AS due',
    )
  ).rows[0].due;

/** The OK records stored for the flow log: how many, and their packets and bytes. */
async function storedTotals(pool: Pool, flowLogId: string | undefined) {
  return pool.query<{ rows: number; packets: number; bytes: number }>(
    `SELECT count(*)::float8 AS rows, coalesce(sum(packets), 0)::float8 AS packets, coalesce(sum(bytes), 0)::float8 AS bytes
       FROM flow_records WHERE flow_log_id = $1 AND log_status = 'OK'`,
    [flowLogId],
  );
}

const packetsStored = async (pool: Pool, flowLogId: string | undefined) =>
  (await storedTotals(pool, flowLogId)).rows[0].packets;

export async function runThroughput(
  launch: AgentLaunch,
  s: Services,
  pool: Pool,
  packets: number,
  sampleMs = 200,
  onProgress?: (line: string) => void,
): Promise<ThroughputResult> {
  const agent = startAgent(launch);
  try {
    // Sampling starts at once (not after /readyz): the agent may send its first batch right after it is ready.
    const samples: Sample[] = [];
    let tStart = NaN;
    let tAgentDone = NaN;
    let tAggDone = NaN;
    let tStored = NaN;
    let tFolded = NaN;
    let lastProgress = 0;
    const timeoutSec = Math.max(900, packets / 1_000);
    const began = now();
    for (;;) {
      for (const svc of [agent, s.aggregator, s.publisher]) {
        if (svc.child.exitCode !== null)
          throw new Error(`${svc.name} exited (${svc.child.exitCode}) during the run; see ${svc.logPath}`);
      }
      const sample = await takeSample(agent, s);
      samples.push(sample);
      if (sample.agentPackets === 0) tStart = sample.t0;
      if (Number.isNaN(tAgentDone) && sample.agentPackets >= packets) tAgentDone = sample.t1;
      if (Number.isNaN(tAggDone) && sample.aggPackets >= packets) tAggDone = sample.t1;
      // The metrics say done; Postgres must agree: the aggregator's open-flow gauge can reach 0 before
      // its record counter moves (a run ended with the last window's 4,000 records uncounted).
      if (
        Number.isNaN(tStored) &&
        sample.aggPackets >= packets &&
        sample.activeFlows === 0 &&
        sample.aggRecords > 0 &&
        sample.pubRecords >= sample.aggRecords &&
        (await packetsStored(pool, launch.eni.flowLogId)) + sample.aggSkipped >= packets
      ) {
        tStored = sample.t1;
      }
      // Then until the rollups hold them too, folded and sealed: part of what a stored record costs.
      // The publisher folds at its cadence and seals a slot 5 min after its last record (a shorter
      // wait sealed the slot between two of the aggregator's bursts, and the rest came late); once
      // it has folded them all, the seal it would run then is run here, its Postgres time counted.
      if (!Number.isNaN(tStored) && !(await rollupsPending(pool))) {
        while (await rollupsDue(pool)) {
          if (!(await foldRollup(pool, 0)).folded) await sleep(50);
        }
        tFolded = now();
        break;
      }
      if (onProgress && sample.t1 - lastProgress >= 5) {
        lastProgress = sample.t1;
        onProgress(
          `  … ${(sample.t1 - began).toFixed(0)} s: agent ${sample.agentPackets} pkts, aggregator ${sample.aggPackets} pkts / ${sample.activeFlows} open flows / ${sample.aggRecords} records, publisher ${sample.pubRecords} records`,
        );
      }
      if (now() - began > timeoutSec)
        throw new Error(`throughput phase: not done after ${timeoutSec} s (last sample ${JSON.stringify(sample)})`);
      await sleep(Math.max(0, (sample.agentPackets > 0 ? sampleMs : 50) - (now() - sample.t0) * 1000));
    }
    if (Number.isNaN(tStart)) tStart = samples[0].t0; // the agent had queued packets before the first scrape answered
    const db = await storedTotals(pool, launch.eni.flowLogId);
    const last = samples[samples.length - 1];
    const peak = samples.reduce((a, b) => (b.activeFlows > a.activeFlows ? b : a), samples[0]);
    const max = (f: (x: Sample) => number) => Math.max(...samples.map(f).filter((v) => Number.isFinite(v)));
    return {
      packets,
      tStart,
      startSource: 'last agent /metrics sample with none queued',
      tAgentDone,
      tAggDone,
      tStored,
      tFolded,
      records: last.aggRecords,
      storedRows: db.rows[0].rows,
      storedPackets: db.rows[0].packets,
      storedBytes: db.rows[0].bytes,
      skipped: last.aggSkipped,
      samples,
      peak,
      maxRss: { agent: max((x) => x.agentRss), aggregator: max((x) => x.aggRss), publisher: max((x) => x.pubRss) },
    };
  } finally {
    await stopService(agent);
  }
}

export interface WindowLatency {
  windowStart: number;
  windowEnd: number;
  records: number;
  packets: number;
  /** Upper bounds: the poll whose answer first showed any / the final count of the window's records returned at these times. */
  firstSeen: number;
  lastChange: number;
}

export interface LatencyResult {
  packets: number;
  storedPackets: number;
  windows: WindowLatency[];
  pollMs: number;
  pollQueryMs: number;
  agentStarted: number;
  agentDone: number;
}

export async function runLatency(
  launch: AgentLaunch,
  s: Services,
  pool: Pool,
  packets: number,
  durationSec: number,
  pollMs = 100,
  onProgress?: (line: string) => void,
): Promise<LatencyResult> {
  const agent = startAgent(launch);
  try {
    await waitReady(agent);
    const agentStarted = now();
    const windows = new Map<number, WindowLatency>();
    let agentDone = NaN;
    let storedPackets = 0;
    let lastAgentCheck = 0;
    let lastProgress = agentStarted;
    let queryMs = 0;
    let polls = 0;
    const deadline = agentStarted + durationSec + 120;
    for (;;) {
      for (const svc of [agent, s.aggregator, s.publisher]) {
        if (svc.child.exitCode !== null)
          throw new Error(`${svc.name} exited (${svc.child.exitCode}) during the latency phase; see ${svc.logPath}`);
      }
      const t0 = now();
      const r = await pool.query(
        `SELECT window_start, max(window_end) AS window_end, count(*)::float8 AS n, coalesce(sum(packets), 0)::float8 AS p
           FROM flow_records WHERE flow_log_id = $1 AND log_status = 'OK' GROUP BY window_start`,
        [launch.eni.flowLogId],
      );
      const t1 = now();
      queryMs += (t1 - t0) * 1000;
      polls++;
      storedPackets = 0;
      for (const row of r.rows as Array<{ window_start: number; window_end: number; n: number; p: number }>) {
        storedPackets += row.p;
        const w = windows.get(row.window_start);
        if (!w)
          windows.set(row.window_start, {
            windowStart: row.window_start,
            windowEnd: row.window_end,
            records: row.n,
            packets: row.p,
            firstSeen: t1,
            lastChange: t1,
          });
        else if (w.records !== row.n || w.packets !== row.p)
          Object.assign(w, { records: row.n, packets: row.p, lastChange: t1 });
      }
      if (Number.isNaN(agentDone) && t1 - lastAgentCheck >= 0.5) {
        lastAgentCheck = t1;
        const m = await scrape(agent, 2000);
        if (get(m, 'flowlogs_agent_packets_total') >= packets) agentDone = now();
      }
      if (storedPackets >= packets) break;
      if (onProgress && t1 - lastProgress >= 10) {
        lastProgress = t1;
        onProgress(
          `  … ${(t1 - agentStarted).toFixed(0)} s: ${windows.size} windows with records, ${storedPackets} of ${packets} packets stored`,
        );
      }
      if (t1 > deadline) {
        onProgress?.(`  latency phase: stopped waiting at ${storedPackets} of ${packets} packets stored`);
        break;
      }
      await sleep(Math.max(0, pollMs - (now() - t0) * 1000));
    }
    return {
      packets,
      storedPackets,
      windows: [...windows.values()].sort((a, b) => a.windowStart - b.windowStart),
      pollMs,
      pollQueryMs: queryMs / Math.max(1, polls),
      agentStarted,
      agentDone,
    };
  } finally {
    await stopService(agent);
  }
}

/**
 * The producer timestamps (CreateTime, set by the agent when it made the batch) of the first and
 * the last message on the packets topic: when the first packet was sent and the last one queued.
 */
export async function packetsTopicSpan(
  kafka: import('kafkajs').Kafka,
  topic: string,
  groupId: string,
): Promise<{ firstMs: number; lastMs: number; messages: number }> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, number>();
  try {
    for (const p of await admin.fetchTopicOffsets(topic))
      if (Number(p.high) > Number(p.low)) ends.set(p.partition, Number(p.high));
  } finally {
    await admin.disconnect();
  }
  const span = { firstMs: Infinity, lastMs: -Infinity, messages: 0 };
  if (!ends.size) return span;
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 1 << 20 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const reached = new Set<number>();
    await new Promise<void>((resolveDone, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} for its timestamps took over 120 s`)), 120_000);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              const ts = Number(m.timestamp);
              span.messages++;
              if (ts < span.firstMs) span.firstMs = ts;
              if (ts > span.lastMs) span.lastMs = ts;
              if (Number(m.offset) + 1 >= (ends.get(batch.partition) ?? 0)) reached.add(batch.partition);
            }
            if (reached.size >= ends.size) {
              clearTimeout(timer);
              resolveDone();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return span;
}
