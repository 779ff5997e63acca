/**
 * Live capture through a tcpdump child streaming pcap to its stdout (`-w - -U`), parsed as it comes:
 * an interface's traffic, or an nflog:<group> device fed by nftables rules (one tcpdump per group,
 * merged). Kernel drops come from tcpdump's statistics on stderr, asked for with SIGUSR1 each second.
 */
import { spawn } from 'node:child_process';
import { CaptureParser, type RecordReader } from '@flowlogs/packet';
import type { CaptureSource } from './source.js';

export interface TcpdumpOptions {
  /** An interface name, or nflog:<group>. */
  interface: string;
  filter?: string;
  snaplen?: number;
  immediate?: boolean;
  /** Runs tcpdump inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Called once tcpdump listens, with its own words ("listening on eth0, link-type EN10MB …"). */
  onListening?: (line: string) => void;
}

/**
 * The command line that captures as `o` says. `-Z root`: tcpdump started as root stays root instead
 * of switching to its own user, which would clear the parent-death signal it is started with.
 */
export function tcpdumpCommand(o: TcpdumpOptions): string[] {
  const tcpdump = [
    'tcpdump',
    '-i',
    o.interface,
    '-w',
    '-',
    '-U',
    '-n',
    '-s',
    String(o.snaplen ?? 262144),
    '-Z',
    'root',
  ];
  if (o.immediate) tcpdump.push('--immediate-mode');
  if (o.filter) tcpdump.push(o.filter);
  return o.netns ? ['ip', 'netns', 'exec', o.netns, ...tcpdump] : tcpdump;
}

/**
 * What tcpdump says on stderr, line by line: when it listens, its kernel drop count (cumulative:
 * "N packets dropped by kernel", on SIGUSR1 and at exit), and the last lines for an error. Pure.
 */
export class TcpdumpStderr {
  kernelDrops = 0;
  listening: string | undefined;
  private partial = '';
  private lines: string[] = [];

  push(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) this.line(line.trim());
  }

  /** The last lines, for an error message. */
  tail(): string {
    return [...this.lines, this.partial.trim()].filter(Boolean).join('; ');
  }

  private line(line: string): void {
    if (!line) return;
    const dropped = /(\d+) packets? dropped by kernel/.exec(line);
    if (dropped) this.kernelDrops = Number(dropped[1]);
    else if (line.startsWith('tcpdump: listening on ')) this.listening ??= line;
    else if (!/^(tcpdump: )?\d+ packets? (captured|received by filter)/.test(line))
      this.lines = [...this.lines.slice(-3), line];
  }
}

/**
 * How far behind the wall clock a tcpdump's frames come: NFLOG hands packets over in the kernel's
 * batches, about once a second; an interface's packets wait in libpcap's buffer up to tcpdump's
 * 1 s timeout unless in immediate mode. A quarter of a second on top for the pipe and the agent.
 */
export const NFLOG_LATENESS_S = 1.5;

/** How long a tcpdump asked to stop may take before it is killed. */
const TCPDUMP_STOP_GRACE_MS = 2_000;

function tcpdumpLateness(o: TcpdumpOptions): number {
  if (o.interface.startsWith('nflog:')) return NFLOG_LATENESS_S;
  return o.immediate ? 0.25 : 1.25;
}

/** One tcpdump as a capture source. */
export function tcpdumpSource(o: TcpdumpOptions): CaptureSource {
  let stderr = new TcpdumpStderr();
  let taken = 0;
  const command = tcpdumpCommand(o);
  return {
    name: `${o.interface.startsWith('nflog:') ? o.interface : `live ${o.interface}`}${o.netns ? ` in netns ${o.netns}` : ''}`,
    live: true,
    lateness: tcpdumpLateness(o),
    total: undefined,
    takeKernelDrops() {
      const drops = stderr.kernelDrops - taken;
      taken = stderr.kernelDrops;
      return drops;
    },
    async *chunks(signal: AbortSignal): AsyncIterable<RecordReader> {
      if (signal.aborted) return;
      stderr = new TcpdumpStderr();
      taken = 0;
      // Killed with the agent (SIGTERM when it dies, even by SIGKILL): an orphan tcpdump would keep
      // its NFLOG group bound, and the restarted agent could not listen to it.
      const child = spawn('setpriv', ['--pdeathsig', 'TERM', '--', ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('close', (code, by) => resolve([code, by])),
      );
      // A missing binary is an 'error' event; 'close' follows it.
      let spawnError: Error | undefined;
      child.on('error', (err) => {
        spawnError = err;
      });
      // tcpdump can miss a SIGTERM on an NFLOG group: libpcap looks at its break flag only when a read
      // returns, so a signal landing between two reads leaves it waiting for the next packet, forever
      // on an idle group (an agent stayed up for hours after SIGTERM, its tcpdump still in recv()).
      const stop = () => {
        child.kill('SIGTERM');
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }, TCPDUMP_STOP_GRACE_MS).unref();
      };
      signal.addEventListener('abort', stop, { once: true });
      // SIGUSR1 before tcpdump set its handler would kill it: only once it listens.
      const stats = setInterval(() => {
        if (stderr.listening && child.exitCode === null) child.kill('SIGUSR1');
      }, 1000);
      child.stderr.setEncoding('utf8').on('data', (text: string) => {
        const wasListening = stderr.listening;
        stderr.push(text);
        if (!wasListening && stderr.listening) o.onListening?.(stderr.listening);
      });
      const parser = new CaptureParser();
      try {
        for await (const chunk of child.stdout) {
          parser.push(chunk as Buffer);
          yield parser;
        }
        const [code, killedBy] = await exited;
        if (spawnError) throw new Error(`setpriv (util-linux) could not start ${command[0]}: ${spawnError.message}`);
        if (!signal.aborted && (code !== 0 || killedBy)) {
          throw new Error(`${command.join(' ')} exited with ${code ?? killedBy}: ${stderr.tail() || 'no message'}`);
        }
        if (!signal.aborted) parser.end();
      } finally {
        clearInterval(stats);
        signal.removeEventListener('abort', stop);
        if (child.exitCode === null && child.signalCode === null) {
          stop();
          await exited;
        }
      }
    },
  };
}

/**
 * The frames of several sources in one stream, as they come: ends when all have ended; when one
 * throws, or the consumer stops, the others are aborted (and awaited) and the error passed on.
 */
export async function* mergeFrames<T>(
  open: Array<(signal: AbortSignal) => AsyncIterable<T>>,
  signal: AbortSignal,
): AsyncGenerator<T> {
  const inner = new AbortController();
  const stop = () => inner.abort();
  signal.addEventListener('abort', stop, { once: true });
  const iterators = open.map((frames) => frames(inner.signal)[Symbol.asyncIterator]());
  const next = (i: number) => iterators[i].next().then((result) => ({ i, result }));
  const pending = new Map(iterators.map((_, i) => [i, next(i)]));
  try {
    while (pending.size) {
      const { i, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(i);
        continue;
      }
      yield result.value;
      // Asked for only now: a frame stays valid until its own source is asked for the next.
      pending.set(i, next(i));
    }
  } finally {
    signal.removeEventListener('abort', stop);
    inner.abort();
    await Promise.allSettled(pending.values());
    await Promise.allSettled(iterators.map((it) => it.return?.()));
  }
}

/** Live sources as one: their frames merged as they come, their kernel drops summed. */
function mergedSource(name: string, sources: CaptureSource[]): CaptureSource {
  return {
    name,
    live: true,
    lateness: Math.max(...sources.map((s) => s.lateness)),
    total: undefined,
    takeKernelDrops: () => sources.reduce((n, s) => n + s.takeKernelDrops(), 0),
    chunks: (signal) =>
      mergeFrames(
        sources.map((s) => (inner: AbortSignal) => s.chunks(inner)),
        signal,
      ),
  };
}

type NflogOptions = { groups: number[]; netns?: string; onListening?: (line: string) => void };

const nflogTcpdumps = (o: NflogOptions) =>
  o.groups.map((group) => tcpdumpSource({ interface: `nflog:${group}`, netns: o.netns, onListening: o.onListening }));

/** The verdicts of nftables rules logging to these NFLOG groups: one tcpdump per group, merged. */
export function nflogSource(o: NflogOptions): CaptureSource {
  return mergedSource(`nflog:${o.groups.join(',')}${o.netns ? ` in netns ${o.netns}` : ''}`, nflogTcpdumps(o));
}

/**
 * An interface with the verdicts of the firewall in its namespace: its tcpdump and one per NFLOG
 * group, merged (NFLOG frames are told apart by their link type; see verdicts.ts).
 */
export function verdictedLiveSource(o: TcpdumpOptions & { groups: number[] }): CaptureSource {
  const live = tcpdumpSource(o);
  return mergedSource(`${live.name} with the drops of nflog:${o.groups.join(',')}`, [live, ...nflogTcpdumps(o)]);
}
