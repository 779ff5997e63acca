/**
 * Live-path benchmark: the capture agent's CPU per packet on a live interface — tcpdump child →
 * pipe → agent (parse, batch, sign) → Kafka — with a generated packet stream on a veth pair.
 *
 *   flock /tmp/flowlogs-netns.lock npm run bench:live -- [--seconds S] [--flows N] [--size BYTES] [--idle S]
 *
 * Two network namespaces joined by a veth pair; a UDP generator (a Node process, in the first)
 * sends to `--flows` ports of the second as fast as it can for `--seconds`; the agent (a child
 * process, as in bench:pipeline, with the control plane it registers through) captures the second
 * namespace's end. Per packet the agent captured: the agent's CPU and its tcpdump's, from /proc,
 * over the generator's run plus the time the agent needs to send what it queued. First, what the agent
 * and its tcpdump cost while the interface is quiet (`--idle` seconds; 0 skips it): what every host
 * pays with no traffic. Needs root (ip
 * netns, tcpdump), Kafka (started when nothing answers) and Postgres (the control plane's database).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dropDatabase, ensureDatabase } from '@flowlogs/db';
import { createKafka } from '@flowlogs/kafka';
import { createLogger } from '@flowlogs/runtime';
import { intOption } from './lib/args.js';
import { defaultCacheDir } from './lib/generate-capture.js';
import { si, table } from './lib/measure.js';
import { startAgent } from './lib/pipeline-phases.js';
import {
  apiCall,
  ensureKafka,
  freePort,
  killAllNow,
  machineDescription,
  machineCpuSec,
  procCpuSec,
  scrape,
  startControlPlane,
  stopAll,
  waitReady,
  type Service,
} from './lib/pipeline-services.js';

interface Options {
  seconds: number;
  flows: number;
  size: number;
  idle: number;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { seconds: 10, flows: 1000, size: 200, idle: 10 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seconds') opts.seconds = intOption(argv, i++, '--seconds', 1);
    else if (argv[i] === '--flows') opts.flows = intOption(argv, i++, '--flows', 1);
    else if (argv[i] === '--size') opts.size = intOption(argv, i++, '--size', 1);
    else if (argv[i] === '--idle') opts.idle = intOption(argv, i++, '--idle', 0);
    else throw new Error(`unknown argument ${argv[i]} (--seconds S, --flows N, --size BYTES, --idle S)`);
  }
  return opts;
}

const sh = (...cmd: string[]) => execFileSync(cmd[0], cmd.slice(1), { stdio: 'pipe' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The generator: UDP datagrams of `size` bytes to `flows` ports, round robin, as fast as the
 * socket takes them (a few hundred in flight at a time); prints how many it sent.
 */
const GENERATOR = `
const dgram = require('node:dgram');
const [host, flows, size, seconds] = process.argv.slice(1).map((v, i) => (i ? Number(v) : v));
const socket = dgram.createSocket('udp4');
const payload = Buffer.alloc(size, 0x5a);
const end = Date.now() + seconds * 1000;
let sent = 0, port = 0, inFlight = 0;
const done = () => { inFlight--; };
(function burst() {
  if (Date.now() >= end) { const wait = () => inFlight ? setTimeout(wait, 10) : (console.log(sent), socket.close()); return wait(); }
  for (let i = 0; i < 256 && inFlight < 1024; i++) { inFlight++; sent++; socket.send(payload, 20000 + (port++ % flows), host, done); }
  setImmediate(burst);
})();
`;

/** Pids of the process's descendants whose command is `comm`. */
function descendants(root: number, comm: string): number[] {
  const children = new Map<number, number[]>();
  const comms = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      comms.set(Number(entry), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      if (comms.get(c) === comm) out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  console.log(`machine: ${machineDescription()}`);
  const kafkaState = ensureKafka();
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const id = randomBytes(3).toString('hex');
  const prefix = `benchlive${id}`;
  const dbUrl = `postgres://postgres@127.0.0.1:5432/flowlogs_bench_live_${id}`;
  const logDir = join(defaultCacheDir(), 'live', prefix);
  mkdirSync(logDir, { recursive: true });
  const nsA = `fl-live-${id}-a`;
  const nsB = `fl-live-${id}-b`;
  const vethA = `vla${id}`;
  const vethB = `vlb${id}`;
  const apiKey = `bench-admin-${randomBytes(8).toString('hex')}`;
  console.log(
    `Kafka ${brokers} (broker pid ${kafkaState.pid ?? 'unknown'}); topic prefix ${prefix}; namespaces ${nsA}, ${nsB}; logs in ${logDir}`,
  );
  const cleanup = async () => {
    await stopAll();
    for (const ns of [nsA, nsB]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {
        // not made
      }
    }
    await dropDatabase(dbUrl).catch(() => undefined);
    const kafka = createKafka(brokers.split(','), `bench-live-cleanup-${id}`, createLogger('bench', 'silent'));
    const admin = kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
  };
  onAbort = cleanup;
  try {
    sh('ip', 'netns', 'add', nsA);
    sh('ip', 'netns', 'add', nsB);
    sh('ip', 'link', 'add', vethA, 'netns', nsA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB);
    sh('ip', '-n', nsA, 'addr', 'add', '10.213.0.1/30', 'dev', vethA);
    sh('ip', '-n', nsB, 'addr', 'add', '10.213.0.2/30', 'dev', vethB);
    for (const [ns, dev] of [
      [nsA, vethA],
      [nsB, vethB],
    ]) {
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    }

    await ensureDatabase(dbUrl);
    const [apiPort, agentPort] = await Promise.all([freePort(), freePort()]);
    const baseEnv = {
      KAFKA_BROKERS: brokers,
      FLOWLOGS_TOPIC_PREFIX: prefix,
      DATABASE_URL: dbUrl,
      FLOWLOGS_API_KEY: apiKey,
      FLOWLOGS_API_URL: `http://127.0.0.1:${apiPort}`,
      LOG_LEVEL: 'info',
    };
    const controlPlane = await startControlPlane(baseEnv, apiPort, logDir);
    const api = (method: string, path: string, body?: unknown) =>
      apiCall(controlPlane.baseUrl, apiKey, method, path, body);
    const vpc = await api('POST', '/v1/vpcs', { name: 'bench-live', cidrBlock: '10.213.0.0/16' });
    const subnet = await api('POST', '/v1/subnets', { vpcId: vpc.id, name: 'bench-live', cidrBlock: '10.213.0.0/24' });
    const agent: Service = startAgent({
      baseEnv,
      metricsPort: agentPort,
      logDir,
      name: 'agent-live',
      eni: { eniId: `eni-${randomBytes(8).toString('hex')}`, subnetId: subnet.id, primaryIp: '10.213.0.2' },
      source: { type: 'live', interface: vethB, netns: nsB },
    });
    await waitReady(agent);
    // tcpdump listens once its child shows up and has said so in the agent's log.
    const deadline = Date.now() + 30_000;
    while (!readFileSync(agent.logPath, 'utf8').includes('capture listening')) {
      if (Date.now() > deadline) throw new Error(`the agent's tcpdump did not start; see ${agent.logPath}`);
      await sleep(200);
    }
    await sleep(500);
    const agentPid = agent.child.pid!;
    const tcpdumpPids = descendants(agentPid, 'tcpdump');
    const cpu = () => ({
      agent: procCpuSec(agentPid) ?? NaN,
      tcpdump: tcpdumpPids.reduce((s, p) => s + (procCpuSec(p) ?? NaN), 0),
      machine: machineCpuSec().busy,
    });
    const packetsOf = async () => {
      const m = await scrape(agent);
      return {
        // A counter shows up with its first packet.
        captured: m ? (m.get('flowlogs_agent_packets_total') ?? 0) : NaN,
        dropped: m?.get('flowlogs_agent_dropped_packets_total') ?? 0,
      };
    };
    const quiet = { from: { cpu: cpu(), t: Date.now() }, to: { cpu: cpu(), t: Date.now() } };
    if (opts.idle) {
      console.log(`\nno traffic for ${opts.idle} s: the agent's heartbeats only …`);
      await sleep(opts.idle * 1000);
      quiet.to = { cpu: cpu(), t: Date.now() };
    }
    const before = { cpu: cpu(), packets: await packetsOf(), t: Date.now() };
    console.log(`\ngenerating for ${opts.seconds} s: UDP, ${opts.size} bytes of payload, ${opts.flows} ports …`);
    const generator = spawn(
      'ip',
      [
        'netns',
        'exec',
        nsA,
        process.execPath,
        '-e',
        GENERATOR,
        '10.213.0.2',
        String(opts.flows),
        String(opts.size),
        String(opts.seconds),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let generated = '';
    generator.stdout!.on('data', (d) => (generated += d));
    const generatorPid = generator.pid!;
    let generatorCpu = 0;
    // `ip netns exec` execs the generator: same pid; sampled while it lives.
    const sampler = setInterval(() => (generatorCpu = Math.max(generatorCpu, procCpuSec(generatorPid) ?? 0)), 200);
    await new Promise((r) => generator.on('exit', r));
    clearInterval(sampler);
    const genSent = Number(generated.trim());
    // What the agent still holds: a batch leaves at most FLOWLOGS_FLUSH_MS after its first packet.
    let after = { cpu: cpu(), packets: await packetsOf(), t: Date.now() };
    for (let settled = 0; settled < 3; ) {
      await sleep(300);
      const next = { cpu: cpu(), packets: await packetsOf(), t: Date.now() };
      settled = next.packets.captured === after.packets.captured ? settled + 1 : 0;
      if (next.packets.captured !== after.packets.captured) after = next;
    }
    const captured = after.packets.captured - before.packets.captured;
    const dropped = after.packets.dropped - before.packets.dropped;
    const wall = (after.t - before.t) / 1000;
    const agentCpu = after.cpu.agent - before.cpu.agent;
    const tcpdumpCpu = after.cpu.tcpdump - before.cpu.tcpdump;
    const us = (s: number) => `${((1e6 * s) / captured).toFixed(2)} µs`;
    console.log('\n==== results ====');
    console.log(`machine: ${machineDescription()}`);
    console.log(
      `generator sent ${genSent} datagrams in ${opts.seconds} s (${si(genSent / opts.seconds)}/s, ~${generatorCpu.toFixed(1)} CPU s); the agent captured ${captured} packets (${si(captured / wall)}/s over ${wall.toFixed(1)} s, the generated ones plus ICMP answers), dropped ${dropped}`,
    );
    if (opts.idle) {
      const core = (s: number) => `${((100 * s) / ((quiet.to.t - quiet.from.t) / 1000)).toFixed(2)} % of a core`;
      console.log(
        `idle, no traffic for ${((quiet.to.t - quiet.from.t) / 1000).toFixed(1)} s: the agent ${core(quiet.to.cpu.agent - quiet.from.cpu.agent)}, its tcpdump ${core(quiet.to.cpu.tcpdump - quiet.from.cpu.tcpdump)}`,
      );
    }
    console.log(
      table(
        ['process', 'CPU s', 'per packet', 'notes'],
        [
          [
            'capture agent (Node)',
            agentCpu.toFixed(2),
            us(agentCpu),
            'parse the pcap stream, batch, sign, send to Kafka (/proc/<pid>/stat)',
          ],
          [
            'its tcpdump child',
            tcpdumpCpu.toFixed(2),
            us(tcpdumpCpu),
            `libpcap → pcap on the pipe (-w - -U), pids ${tcpdumpPids.join(', ')}`,
          ],
          [
            'agent + tcpdump',
            (agentCpu + tcpdumpCpu).toFixed(2),
            us(agentCpu + tcpdumpCpu),
            'what a host pays per packet for its flow logs',
          ],
          [
            'machine (all cores)',
            (after.cpu.machine - before.cpu.machine).toFixed(1),
            '',
            'includes the generator, the kernel, the broker and others',
          ],
        ],
      ),
    );
  } finally {
    await cleanup();
  }
}

let onAbort: (() => Promise<void>) | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAllNow();
    void (onAbort?.() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}
process.on('exit', killAllNow);

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  await onAbort?.().catch(() => undefined);
  process.exit(1);
});
