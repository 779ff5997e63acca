import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildEthernetFrame, buildIpPacket, writePcap } from '@flowlogs/packet';
import { fileSource } from '../src/sources/file-source.js';

const frame = buildEthernetFrame(
  buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 'udp', srcPort: 1, dstPort: 2 }),
);
const path = join(mkdtempSync(join(tmpdir(), 'flowlogs-file-source-')), 'c.pcap');
writeFileSync(path, writePcap([100, 101, 160].map((s) => ({ tsSec: 1_700_000_000 + s, frame }))));

async function timestamps(
  options: Parameters<typeof fileSource>[0],
): Promise<{ total: number | undefined; ts: number[] }> {
  const source = await fileSource(options);
  const ts: number[] = [];
  for await (const chunk of source.chunks(new AbortController().signal))
    for (let r = chunk.next(); r; r = chunk.next()) ts.push(r.tsSec + r.tsNanos / 1e9);
  return { total: source.total, ts };
}

describe('file source', () => {
  it('keeps capture timestamps, also when it counts frames for a progress bar', async () => {
    expect(await timestamps({ path, speed: 'max', rebase: false })).toEqual({
      total: undefined,
      ts: [1_700_000_100, 1_700_000_101, 1_700_000_160],
    });
    expect(await timestamps({ path, speed: 'max', rebase: false, countFrames: true })).toEqual({
      total: 3,
      ts: [1_700_000_100, 1_700_000_101, 1_700_000_160],
    });
  });

  it('stamps each packet when it is sent when rebased at full speed, in capture order, however old and spread the capture', async () => {
    const before = Date.now() / 1000;
    const { ts } = await timestamps({ path, speed: 'max', rebase: true });
    const after = Date.now() / 1000;
    expect(ts).toHaveLength(3);
    for (const t of ts) {
      expect(t).toBeGreaterThanOrEqual(Math.floor(before * 1000) / 1000);
      expect(t).toBeLessThanOrEqual(after + 0.001);
    }
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);
  });

  it('stamps the first packet with the moment it is sent at capture speed', async () => {
    const before = Date.now() / 1000;
    const source = await fileSource({ path, speed: 'capture', rebase: true });
    const chunk = (await source.chunks(new AbortController().signal)[Symbol.asyncIterator]().next()).value;
    const first = chunk.next();
    expect(first.tsSec + first.tsNanos / 1e9).toBeGreaterThanOrEqual(before - 0.001);
    expect(first.tsSec + first.tsNanos / 1e9).toBeLessThanOrEqual(Date.now() / 1000 + 0.001);
  });
});
