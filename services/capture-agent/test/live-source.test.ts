import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { mergeFrames, tcpdumpCommand, tcpdumpSource, TcpdumpStderr } from '../src/sources/live-source.js';

const hasTcpdump = (() => {
  try {
    execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('tcpdump stderr', () => {
  it('follows the cumulative kernel drop count, on SIGUSR1 and at exit', () => {
    const s = new TcpdumpStderr();
    s.push('tcpdump: listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n');
    expect(s.listening).toMatch(/^tcpdump: listening on eth0/);
    s.push('tcpdump: 13 packets captured, 13 packets received by filter, 2 packets dropped by ker');
    expect(s.kernelDrops).toBe(0); // half a line waits for its end
    s.push('nel\n');
    expect(s.kernelDrops).toBe(2);
    s.push('16 packets captured\n16 packets received by filter\n7 packets dropped by kernel\n');
    expect(s.kernelDrops).toBe(7);
    expect(s.tail()).toBe('');
  });

  it('keeps the last lines of an error', () => {
    const s = new TcpdumpStderr();
    s.push('tcpdump: nope0: No such device exists\n(No such device exists)\n');
    expect(s.tail()).toBe('tcpdump: nope0: No such device exists; (No such device exists)');
  });
});

describe('tcpdump command', () => {
  it('streams pcap, in a network namespace when asked, the filter last', () => {
    expect(tcpdumpCommand({ interface: 'eth0' })).toEqual([
      'tcpdump',
      '-i',
      'eth0',
      '-w',
      '-',
      '-U',
      '-n',
      '-s',
      '262144',
      '-Z',
      'root',
    ]);
    expect(
      tcpdumpCommand({ interface: 'veth1', filter: 'not port 22', snaplen: 128, immediate: true, netns: 'cvm-a' }),
    ).toEqual([
      'ip',
      'netns',
      'exec',
      'cvm-a',
      'tcpdump',
      '-i',
      'veth1',
      '-w',
      '-',
      '-U',
      '-n',
      '-s',
      '128',
      '-Z',
      'root',
      '--immediate-mode',
      'not port 22',
    ]);
  });
});

describe.skipIf(!hasTcpdump)('tcpdump source', () => {
  it("fails with tcpdump's own words for an interface that is not there", async () => {
    const source = tcpdumpSource({ interface: 'flowlogs-none0' });
    const frames = async () => {
      for await (const _ of source.chunks(new AbortController().signal));
    };
    await expect(frames()).rejects.toThrow(/exited with 1: .*flowlogs-none0.*No such device/);
  });
});

describe('merged frames', () => {
  const source = (name: string, delays: number[], fail?: string) =>
    async function* (signal: AbortSignal) {
      try {
        for (const [i, ms] of delays.entries()) {
          await new Promise((r) => setTimeout(r, ms));
          if (signal.aborted) return;
          yield `${name}${i}`;
        }
        if (fail) throw new Error(fail);
        await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r())));
      } finally {
        closed.push(name);
      }
    };
  let closed: string[] = [];

  it('interleaves the sources as their frames come, and ends when all have ended', async () => {
    closed = [];
    const ac = new AbortController();
    const out: string[] = [];
    setTimeout(() => ac.abort(), 150);
    for await (const f of mergeFrames([source('a', [10, 40]), source('b', [30, 40])], ac.signal)) out.push(f);
    expect(out).toEqual(['a0', 'b0', 'a1', 'b1']);
    expect(closed.sort()).toEqual(['a', 'b']);
  });

  it('stops the others when one fails, and passes its error on', async () => {
    closed = [];
    const out: string[] = [];
    const run = async () => {
      for await (const f of mergeFrames(
        [source('a', [5], 'nflog:2 failed'), source('b', [1, 300])],
        new AbortController().signal,
      ))
        out.push(f);
    };
    await expect(run()).rejects.toThrow('nflog:2 failed');
    expect(out.sort()).toEqual(['a0', 'b0']);
    expect(closed.sort()).toEqual(['a', 'b']);
  });

  it('stops every source when the consumer stops', async () => {
    closed = [];
    for await (const _ of mergeFrames([source('a', [1, 1]), source('b', [1, 1])], new AbortController().signal)) break;
    expect(closed.sort()).toEqual(['a', 'b']);
  });
});
