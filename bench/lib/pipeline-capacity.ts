/**
 * The pipeline benchmark's capacity phase (`--capacity N`), for sizing KAFKA_PARTITIONS: what one
 * aggregator and one publisher sustain when work is waiting for them, with N of each.
 *
 * N agents (one ENI each, the ENIs on N distinct packets partitions) queue the capture on the
 * packets topic with no aggregator running; then N aggregators start together and drain it alone;
 * once they have emitted every record, N publishers start together and drain the records topic
 * alone (its partitions shared among them). A stage's rate is taken from the moment all N of its
 * instances read (the group's last rebalance, and its replay, is behind them) to the last input
 * read: per instance, and per partition for the aggregators (one busy partition each).
 */
import { Partitioners } from '@flowlogs/kafka';
import type { CaptureStats } from './generate-capture.js';
import { si, table } from './measure.js';
import { startAgent, type EniSetup } from './pipeline-phases.js';
import {
  freePort,
  machineCpuSec,
  scrape,
  startService,
  stopService,
  type Metrics,
  type Service,
} from './pipeline-services.js';

const now = () => Date.now() / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const get = (m: Metrics | undefined, name: string) => m?.get(name) ?? 0;

/** The packets partition of an ENI's batches: the agent keys them by ENI id, with kafkajs's default partitioner. */
export function eniPartition(eniId: string, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }));
  return Partitioners.DefaultPartitioner()({
    topic: 'packets',
    partitionMetadata,
    message: { key: eniId, value: null },
  });
}

export interface StageDrain {
  instances: number;
  /** Input units (packets, records) read while all instances read, and over how long (0 s: all came in one sample). */
  units: number;
  seconds: number;
  /** Each instance's units and CPU seconds from its first answer to /metrics (started, start-up done) to the end. */
  perInstance: Array<{ units: number; cpu: number }>;
  /** From the first start to the last input read (start-up and rebalances included). */
  wholeSeconds: number;
  machineBusy: number;
  machineTotal: number;
}

export interface CapacityResult {
  instances: number;
  packets: number;
  records: number;
  queueSeconds: number;
  aggregators: StageDrain;
  publishers: StageDrain;
}

interface Launch {
  baseEnv: Record<string, string>;
  logDir: string;
  capture: CaptureStats;
  enis: EniSetup[];
  sampleMs: number;
  log: (line: string) => void;
}

/**
 * Starts `n` instances of a stage together and samples them until `done` says their input is all
 * read; the span measured starts at the first sample in which every instance had read some.
 */
async function drain(
  service: 'aggregator' | 'publisher',
  o: Launch,
  counter: string,
  done: (total: number, samples: Array<Metrics | undefined>) => boolean,
): Promise<{ drain: StageDrain; services: Service[]; last: Array<Metrics | undefined> }> {
  const n = o.enis.length;
  const ports = await Promise.all(o.enis.map(() => freePort()));
  const began = now();
  const services = ports.map((port, i) =>
    startService(service, `capacity-${service}-${i + 1}`, { ...o.baseEnv, METRICS_PORT: String(port) }, port, o.logDir),
  );
  type Mark = { t: number; units: number[]; cpu: number[]; machine: { busy: number; total: number } };
  let answered: Mark | undefined;
  let from: Mark | undefined;
  for (;;) {
    for (const svc of services)
      if (svc.child.exitCode !== null)
        throw new Error(`${svc.name} exited during the capacity phase; see ${svc.logPath}`);
    const t0 = now();
    const m = await Promise.all(services.map((svc) => scrape(svc)));
    const t = (t0 + now()) / 2;
    const units = m.map((x) => get(x, counter));
    const cpu = m.map((x) => get(x, 'process_cpu_seconds_total'));
    const total = units.reduce((a, b) => a + b, 0);
    if (!answered && m.every((x) => x !== undefined)) answered = { t, units, cpu, machine: machineCpuSec() };
    if (!from && answered && units.every((u) => u > 0)) from = { t, units, cpu, machine: machineCpuSec() };
    if (answered && done(total, m)) {
      // An instance that read nothing (its partitions idle): the span starts when all answered.
      from ??= answered;
      const machine = machineCpuSec();
      return {
        services,
        last: m,
        drain: {
          instances: n,
          units: total - from.units.reduce((a, b) => a + b, 0),
          seconds: t - from.t,
          perInstance: units.map((u, i) => ({ units: u - answered!.units[i], cpu: cpu[i] - answered!.cpu[i] })),
          wholeSeconds: t - began,
          machineBusy: machine.busy - answered.machine.busy,
          machineTotal: machine.total - answered.machine.total,
        },
      };
    }
    if (now() - began > 600) throw new Error(`${service}s: not done after 600 s (${total} read)`);
    await sleep(Math.max(0, o.sampleMs - (now() - t0) * 1000));
  }
}

export async function runCapacity(o: Launch): Promise<CapacityResult> {
  const n = o.enis.length;
  const packets = n * o.capture.packets;
  o.log(`  queueing ${n} × ${o.capture.packets} packets (${n} agents, one ENI each) with no aggregator running`);
  const queueStart = now();
  const agents = await Promise.all(
    o.enis.map(async (eni, i) =>
      startAgent({
        baseEnv: o.baseEnv,
        metricsPort: await freePort(),
        logDir: o.logDir,
        name: `capacity-agent-${i + 1}`,
        eni,
        source: { type: 'file', path: o.capture.path, speed: 'max', rebase: false },
      }),
    ),
  );
  try {
    for (;;) {
      const sent = (await Promise.all(agents.map((a) => scrape(a)))).map((m) => get(m, 'flowlogs_agent_packets_total'));
      if (sent.every((s) => s >= o.capture.packets)) break;
      for (const a of agents) if (a.child.exitCode !== null) throw new Error(`${a.name} exited; see ${a.logPath}`);
      if (now() - queueStart > 600) throw new Error(`agents: ${sent.join(', ')} packets sent after 600 s`);
      await sleep(200);
    }
  } finally {
    await Promise.all(agents.map((a) => stopService(a)));
  }
  const queueSeconds = now() - queueStart;
  o.log(`  queued in ${queueSeconds.toFixed(1)} s; starting ${n} aggregator(s)`);

  const agg = await drain(
    'aggregator',
    o,
    'flowlogs_aggregator_packets_total',
    (total, m) =>
      total >= packets &&
      m.every((x) => get(x, 'flowlogs_aggregator_active_flows') === 0) &&
      m.some((x) => get(x, 'flowlogs_aggregator_records_total') > 0),
  );
  const records = agg.last.reduce((a, x) => a + get(x, 'flowlogs_aggregator_records_total'), 0);
  await Promise.all(agg.services.map((s) => stopService(s)));
  o.log(`  aggregators done: ${records} records emitted; starting ${n} publisher(s)`);

  const pub = await drain('publisher', o, 'flowlogs_publisher_records_total', (total) => total >= records);
  await Promise.all(pub.services.map((s) => stopService(s)));
  return { instances: n, packets, records, queueSeconds, aggregators: agg.drain, publishers: pub.drain };
}

export function capacityReport(r: CapacityResult, partitions: number): string {
  const row = (stage: string, d: StageDrain, unit: string, partitionsUsed: number) => {
    const rate = d.seconds > 0 ? d.units / d.seconds : Number.NaN;
    const units = d.perInstance.reduce((a, p) => a + p.units, 0);
    const cpu = d.perInstance.reduce((a, p) => a + p.cpu, 0);
    return [
      `${d.instances} ${stage}${d.instances > 1 ? 's' : ''}`,
      `${si(rate)} ${unit}/s`,
      `${si(rate / d.instances)} ${unit}/s`,
      `${si(rate / partitionsUsed)} ${unit}/s (${partitionsUsed})`,
      `${si(units / cpu)} ${unit}`,
      `${d.seconds.toFixed(2)} s of ${d.wholeSeconds.toFixed(1)} s`,
      d.perInstance.map((p) => `${si(p.units)} on ${p.cpu.toFixed(1)} CPU s`).join('; '),
      `${((100 * d.machineBusy) / Math.max(d.machineTotal, 1e-9)).toFixed(0)}% of ${(d.machineTotal / d.wholeSeconds).toFixed(1)} cores`,
    ];
  };
  return [
    `capacity: ${r.packets} packets on ${r.instances} of ${partitions} packets partitions (one ENI each), ${r.records} records (${(r.packets / r.records).toFixed(1)} packets a record) on ${partitions} records partitions; queued in ${r.queueSeconds.toFixed(1)} s`,
    '  each stage alone on its backlog. Rates: from the moment all its instances read to the last input read (— when it all came',
    '  in one sample); per CPU second: each instance from its start-up done to the end, what one core of its own would take',
    table(
      [
        'stage',
        'total',
        'per instance',
        'per partition (busy)',
        'per CPU second',
        'span',
        'each instance',
        'machine busy',
      ],
      [row('aggregator', r.aggregators, 'packets', r.instances), row('publisher', r.publishers, 'records', partitions)],
    ),
  ].join('\n');
}
