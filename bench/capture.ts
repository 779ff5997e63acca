/**
 * Capture benchmark: flowlogs' decode-and-batch path on one core against
 * tcpdump and pmacctd reading the same large pcap file, and the aggregator's
 * core (windows and records, Kafka aside) on the batches it makes.
 *
 *   npm run bench:capture -- [--packets N] [--flows N] [--runs N] [--no-peers] [--profile]
 *
 * The capture is generated once into .cache/bench/ (keyed by its parameters)
 * and reused. Each flowlogs measurement runs in a fresh Node process so its
 * peak RSS is its own; the figures are timed inside it (file open to last
 * record, start-up excluded). Peers are timed by GNU time around the whole
 * process. --profile adds a `node --cpu-prof` run of the batch path and prints
 * its hottest functions.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCacheDir, ensureCapture, type CaptureStats } from './lib/generate-capture.js';
import { MODES, runPath, type Mode, type PathResult } from './lib/flowlogs-path.js';
import { best, hasGnuTime, median, si, table } from './lib/measure.js';
import { pmacctdBinary, runPmacctd, runTcpdump, tcpdumpBinary, type PeerRun, type PmacctdRun } from './lib/peers.js';
import { summarizeProfile } from './lib/profile.js';
import { intOption } from './lib/args.js';

interface Options {
  packets?: number;
  flows?: number;
  runs: number;
  peers: boolean;
  profile: boolean;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { runs: 3, peers: true, profile: false };
  const int = (i: number, name: string, min = 1) => intOption(argv, i, name, min);
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--packets':
        opts.packets = int(i++, '--packets');
        break;
      case '--flows':
        opts.flows = int(i++, '--flows');
        break;
      case '--runs':
        opts.runs = int(i++, '--runs');
        break;
      case '--no-peers':
        opts.peers = false;
        break;
      case '--profile':
        opts.profile = true;
        break;
      default:
        throw new Error(`unknown argument ${argv[i]} (--packets N, --flows N, --runs N, --no-peers, --profile)`);
    }
  }
  return opts;
}

const SELF = fileURLToPath(import.meta.url);

/** Runs one mode in a child Node process (same loader flags as this one) and returns its result. */
function runWorker(mode: Mode, file: string, nodeFlags: string[] = []): PathResult {
  const child = spawnSync(process.execPath, [...nodeFlags, ...process.execArgv, SELF, '--worker', mode, file], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`worker ${mode} failed (${child.status}): ${child.stderr}`);
  const lines = child.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as PathResult;
}

function machine(): string {
  let model = cpus()[0]?.model ?? 'unknown CPU';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1] ?? model;
  } catch {
    // not Linux
  }
  return `${model}, ${cpus().length} cores; Node ${process.version}`;
}

function toolVersion(binary: string, args: string[], pattern: RegExp): string {
  const out = spawnSync(binary, args, { encoding: 'utf8' });
  const text = `${out.stdout ?? ''}\n${out.stderr ?? ''}`;
  return pattern.exec(text)?.[0]?.trim() ?? 'version unknown';
}

const mbps = (bytes: number, sec: number) => bytes / 1e6 / sec;
const rssMb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

interface Row {
  tool: string;
  pps: number[];
  mbps: number[];
  rssKb: number[];
  notes: string;
}

function rowCells(r: Row): string[] {
  const fmt = (values: number[], f: (v: number) => string) =>
    values.length > 1 ? `${f(best(values))} (${f(median(values))})` : f(values[0]);
  return [r.tool, fmt(r.pps, (v) => si(v)), fmt(r.mbps, (v) => v.toFixed(0)), rssMb(Math.max(...r.rssKb)), r.notes];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--worker') {
    const result = await runPath(argv[1] as Mode, argv[2]);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const opts = parseArgs(argv);
  console.log(`machine: ${machine()}`);

  const overrides: { packets?: number; flows?: number } = {};
  if (opts.packets) overrides.packets = opts.packets;
  if (opts.flows) overrides.flows = opts.flows;
  const capture = ensureCapture(overrides);
  printCapture(capture);
  const file = capture.path;
  const packets = capture.packets;

  // Warm the page cache so every tool reads the file from memory.
  runWorker('fs-read', file);

  const results = new Map<Mode, PathResult[]>();
  for (const mode of MODES) {
    const runs: PathResult[] = [];
    for (let i = 0; i < opts.runs; i++) {
      // The aggregate worker measures an open flow's memory after full GCs.
      const r = runWorker(mode, file, mode === 'aggregate' ? ['--expose-gc'] : []);
      if (mode !== 'fs-read' && r.packets !== packets)
        throw new Error(`${mode}: read ${r.packets} packets, the capture has ${packets}`);
      if (mode !== 'fs-read' && mode !== 'read' && r.decoded !== packets)
        throw new Error(`${mode}: decoded ${r.decoded} of ${packets} packets`);
      runs.push(r);
    }
    results.set(mode, runs);
    const pps = runs.map((r) => packets / r.elapsedSec);
    console.log(
      `flowlogs ${mode.padEnd(7)} runs: ${runs.map((r) => `${r.elapsedSec.toFixed(2)} s`).join(', ')}  → best ${si(best(pps))}pkt/s, median ${si(median(pps))}pkt/s`,
    );
  }

  const rows: Row[] = [];
  const flowRow = (mode: Mode, tool: string, notes: string): Row => {
    const runs = results.get(mode)!;
    return {
      tool,
      pps: runs.map((r) => packets / r.elapsedSec),
      mbps: runs.map((r) => mbps(capture.fileBytes, r.elapsedSec)),
      rssKb: runs.map((r) => r.maxRssKb),
      notes,
    };
  };
  const batchRuns = results.get('batch')!;
  const aggregateRuns = results.get('aggregate')!;
  rows.push(
    flowRow(
      'aggregate',
      'flowlogs aggregate',
      `the aggregator's core on the batches (made untimed): 1 rule, 60 s windows, ${aggregateRuns[0].records} records as JSON`,
    ),
  );
  rows.push(
    flowRow(
      'batch',
      'flowlogs decode+batch',
      `1 core; finish() every 4096; ${batchRuns[0].batches} batches, ${si(batchRuns[0].batchBytes / 1e6, 0)}MB out`,
    ),
  );
  rows.push(flowRow('decode', 'flowlogs decode only', 'readCaptureFile + PacketEventDecoder.decode'));
  rows.push(flowRow('read', 'flowlogs read only', 'readCaptureFile (CaptureParser records), no decode'));
  rows.push(flowRow('fs-read', 'fs read only', '4 MiB reads into reused buffers, no parsing'));

  let pmacctd: PmacctdRun[] | undefined;
  let pmacctdOverheadSec = 0;
  const commands: string[] = [];
  if (!opts.peers) {
    console.log('peers: skipped (--no-peers)');
  } else if (!hasGnuTime()) {
    console.log('peers: skipped — /usr/bin/time (Debian package "time") is missing');
  } else {
    const tcpdump = tcpdumpBinary();
    if (!tcpdump) {
      console.log('tcpdump: not installed — skipped (apt-get install -y tcpdump)');
    } else {
      const runs: PeerRun[] = [];
      for (let i = 0; i < opts.runs; i++) runs.push(runTcpdump(tcpdump, file));
      commands.push(runs[0].commandLine);
      console.log(
        `tcpdump ${toolVersion(tcpdump, ['--version'], /tcpdump version \S+/)} runs: ${runs.map((r) => `${r.wallSec.toFixed(2)} s`).join(', ')}`,
      );
      rows.push({
        tool: 'tcpdump -r -w /dev/null',
        pps: runs.map((r) => packets / r.wallSec),
        mbps: runs.map((r) => mbps(capture.fileBytes, r.wallSec)),
        rssKb: runs.map((r) => r.maxRssKb),
        notes: `libpcap read + write, no decoding; wall incl. start-up; CPU ${runs[0].userSec.toFixed(2)}+${runs[0].sysSec.toFixed(2)} s`,
      });
    }
    const pmacct = pmacctdBinary();
    if (!pmacct) {
      console.log('pmacctd: not installed — skipped (apt-get install -y pmacct)');
    } else {
      const workDir = join(defaultCacheDir(), 'pmacctd');
      mkdirSync(workDir, { recursive: true });
      // Its fixed cost: the start-up sleep and the plugin's shutdown, timed on a 1000-packet capture.
      const tiny = ensureCapture({ packets: 1000 });
      const idle = runPmacctd(pmacct, tiny.path, workDir);
      pmacctdOverheadSec = idle.wallSec;
      pmacctd = [];
      for (let i = 0; i < opts.runs; i++) pmacctd.push(runPmacctd(pmacct, file, workDir));
      commands.push(
        pmacctd[0].commandLine,
        ...pmacctd[0].config
          .trim()
          .split('\n')
          .map((l) => `    ${l}`),
      );
      console.log(
        `pmacctd ${toolVersion(pmacct, ['-V'], /pmacctd \S+/)} fixed overhead (1000-packet capture): ${idle.wallSec.toFixed(2)} s; runs: ${pmacctd.map((r) => `${r.wallSec.toFixed(2)} s wall, ${(r.userSec + r.sysSec).toFixed(2)} s CPU`).join('; ')}`,
      );
      for (const [i, r] of pmacctd.entries()) {
        const ok = r.packets === packets;
        console.log(
          `pmacctd check run ${i + 1}: ${r.rows} aggregates, ${r.packets} packets, ${r.bytes} bytes summed — ${ok ? 'OK, equals' : 'MISMATCH with'} the capture's ${packets} packets / ${capture.ipBytes} IP bytes`,
        );
      }
      const net = (r: PmacctdRun) => Math.max(0.001, r.wallSec - pmacctdOverheadSec);
      rows.push({
        tool: 'pmacctd (wall − fixed)',
        pps: pmacctd.map((r) => packets / net(r)),
        mbps: pmacctd.map((r) => mbps(capture.fileBytes, net(r))),
        rssKb: pmacctd.map((r) => r.maxRssKb),
        notes: `core + print plugin (2 processes); wall minus ${pmacctdOverheadSec.toFixed(2)} s sleep/shutdown; raw wall ${pmacctd.map((r) => r.wallSec.toFixed(1)).join('/')} s`,
      });
      rows.push({
        tool: 'pmacctd (CPU time)',
        pps: pmacctd.map((r) => packets / (r.userSec + r.sysSec)),
        mbps: pmacctd.map((r) => mbps(capture.fileBytes, r.userSec + r.sysSec)),
        rssKb: pmacctd.map((r) => r.maxRssKb),
        notes: 'packets / (user+sys) of both processes: what one core could do if it never slept',
      });
    }
  }

  console.log('');
  console.log(
    `${si(packets, 1)}packets, ${(capture.fileBytes / 1e6).toFixed(0)} MB file; figures are best (median) of ${opts.runs}; MB/s = file bytes / time`,
  );
  console.log(table(['tool', 'packets/s', 'MB/s', 'peak RSS', 'notes'], rows.map(rowCells)));
  console.log('');
  const flowPps = batchRuns.map((r) => packets / r.elapsedSec);
  const memory = aggregateRuns.map((r) => r.memory!);
  const perFlow = (m: (typeof memory)[number]) => (m.heapBytes + m.arrayBytes) / m.openFlows;
  const perFlowMedian = median(memory.map(perFlow));
  const m0 = memory[0];
  console.log(
    `aim ≤ 500 B aggregator memory per open flow: ${perFlowMedian.toFixed(0)} B median of ${memory.length} (${m0.openFlows} flows open at once, after full GCs; run 1: heap ${(m0.heapBytes / m0.openFlows).toFixed(0)} B + array buffers ${(m0.arrayBytes / m0.openFlows).toFixed(0)} B a flow) — ${perFlowMedian <= 500 ? 'MET' : 'NOT MET'}`,
  );
  console.log(
    `aim ≥ 3.00 M packets/s decode+batch on one core: best ${si(best(flowPps))}, median ${si(median(flowPps))} — ${best(flowPps) >= 3e6 ? 'MET' : 'NOT MET'}`,
  );
  if (pmacctd) {
    const pmWall = pmacctd.map((r) => packets / Math.max(0.001, r.wallSec - pmacctdOverheadSec));
    const pmCpu = pmacctd.map((r) => packets / (r.userSec + r.sysSec));
    console.log(
      `ratio flowlogs/pmacctd (packets/s): vs wall − fixed ${(best(flowPps) / best(pmWall)).toFixed(2)} best, ${(median(flowPps) / median(pmWall)).toFixed(2)} median; vs CPU time ${(best(flowPps) / best(pmCpu)).toFixed(2)} best, ${(median(flowPps) / median(pmCpu)).toFixed(2)} median`,
    );
  }
  if (commands.length) {
    console.log('\npeer commands:');
    for (const c of commands) console.log(`  ${c}`);
  }

  if (opts.profile) {
    const dir = join(defaultCacheDir(), 'profiles', String(Date.now()));
    mkdirSync(dir, { recursive: true });
    runWorker('batch', file, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: the main thread (0), not the module loader's worker.
    const profiles = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    const main = profiles.filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    const profile = (main.length ? main : profiles)
      .map((f) => join(dir, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0];
    console.log(`\nCPU profile of decode+batch: ${profile}`);
    console.log(summarizeProfile(profile, 25));
  }
}

function printCapture(c: CaptureStats): void {
  const how = c.cached ? 'cached' : `generated in ${c.generateSec.toFixed(1)} s`;
  const p = c.byProtocol;
  const pct = (n: number) => `${((100 * n) / c.packets).toFixed(1)}%`;
  console.log(`capture: ${c.path} (${how})`);
  console.log(
    `  ${c.packets} packets, ${c.params.flows} conversations (${c.flowKeys} one-way flow keys) over ${c.params.durationSec} s; ` +
      `${(c.fileBytes / 1e6).toFixed(0)} MB, mean frame ${(c.frameBytes / c.packets).toFixed(0)} B; ` +
      `TCP ${pct(p.tcp)}, UDP ${pct(p.udp)}, ICMP ${pct(p.icmp)}; IPv6 ${pct(c.ipv6Packets)}`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
