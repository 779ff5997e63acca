import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodePacketBatch, newPacketEvent } from '@flowlogs/contracts';
import { buildEthernetFrame, buildIpPacket, LinkType, type CaptureRecord, type RecordReader } from '@flowlogs/packet';
import { BatchQueue } from '../src/batch-queue.js';
import { EniStream } from '../src/eni-stream.js';
import type { CaptureSource } from '../src/sources/source.js';

const eni = { eniId: 'eni-a', accountId: '111122223333', vpcId: 'vpc-1', subnetId: 'subnet-1' };
const frame = buildEthernetFrame(
  buildIpPacket({
    src: '10.16.0.22',
    dst: '10.16.0.40',
    protocol: 'udp',
    srcPort: 5000,
    dstPort: 53,
    payloadLength: 20,
  }),
);

/** A frame of `frame` stamped at `ts` (unix s). */
function record(ts: number): CaptureRecord {
  const tsSec = Math.floor(ts);
  return {
    linkType: LinkType.ETHERNET,
    tsSec,
    tsNanos: Math.round((ts - tsSec) * 1e9),
    caplen: frame.length,
    wireLen: frame.length,
    data: frame,
    frameStart: 0,
    frame,
  };
}

/** A source over frames held in memory: `count` UDP packets one millisecond apart, then (optionally) ARP. */
function memorySource(count: number, live: boolean, kernelDrops = 0): CaptureSource {
  let drops = kernelDrops;
  return {
    name: 'memory',
    live,
    lateness: 0,
    total: count,
    takeKernelDrops: () => {
      const n = drops;
      drops = 0;
      return n;
    },
    // Chunks of up to 64 records, as a file or a pipe delivers them.
    async *chunks(): AsyncIterable<RecordReader> {
      const records: CaptureRecord[] = Array.from({ length: count }, (_, i) => ({
        linkType: LinkType.ETHERNET,
        tsSec: 1_700_000_000 + Math.floor(i / 1000),
        tsNanos: (i % 1000) * 1_000_000,
        caplen: frame.length,
        wireLen: frame.length,
        data: frame,
        frameStart: 0,
        frame,
      }));
      const cut = Buffer.from([1, 2, 3]);
      records.push({
        linkType: LinkType.ETHERNET,
        tsSec: 1_700_000_100,
        tsNanos: 0,
        caplen: 3,
        wireLen: 60,
        data: cut,
        frameStart: 0,
        frame: cut,
      });
      for (let i = 0; i < records.length; i += 64) {
        const chunk = records.slice(i, i + 64);
        yield { next: () => chunk.shift() };
      }
    },
  };
}

async function drain(queue: BatchQueue) {
  queue.close();
  const out = [];
  for (let b = await queue.take(Infinity); b.length; b = await queue.take(Infinity))
    out.push(...b.map((x) => decodePacketBatch(x.value)));
  return out;
}

const options = {
  eni,
  agentId: 'test',
  secret: 'c2lnbmluZy1zZWNyZXQtb2YtdGhlLXRlc3QtYWdlbnQwMQ',
  batchPackets: 100,
  flushMs: 1000,
  heartbeatMs: 1000,
};

describe('EniStream', () => {
  it('batches every decoded packet and reports what it skipped', async () => {
    const queue = new BatchQueue(1 << 30);
    const stream = new EniStream({ ...options, source: memorySource(250, false), queue });
    const counters = await stream.run(new AbortController().signal);
    const batches = await drain(queue);
    expect(batches.map((b) => b.count)).toEqual([100, 100, 50]);
    expect(batches.reduce((n, b) => n + b.header.stats.received, 0)).toBe(251);
    expect(batches.at(-1)!.header.stats.skipped).toEqual({ truncated: 1 });
    expect(counters).toEqual({ received: 251, skipped: { truncated: 1 } });
    expect(batches.map((b) => b.header.sequence)).toEqual([0, 1, 2]);
    const p = batches[0].read(0, newPacketEvent());
    expect(p).toMatchObject({ protocol: 17, srcPort: 5000, dstPort: 53, bytes: 48 });
  });

  it('makes a file source wait for room rather than drop (bounded memory, nothing lost)', async () => {
    const queue = new BatchQueue(1); // room for one batch at a time
    const stream = new EniStream({ ...options, source: memorySource(1000, false), queue });
    const running = stream.run(new AbortController().signal);
    let packets = 0;
    for (;;) {
      const taken = await Promise.race([queue.take(1), running.then(() => null)]);
      if (taken === null) break;
      packets += taken.reduce((n, b) => n + b.packets, 0);
      expect(queue.length).toBeLessThanOrEqual(1);
    }
    packets += (await drain(queue)).reduce((n, b) => n + b.count, 0);
    expect(packets).toBe(1000);
  });

  it('drops live packets when the queue is full and reports them per second, with kernel drops', async () => {
    const queue = new BatchQueue(1); // not drained until the source has ended
    const stream = new EniStream({ ...options, source: memorySource(1000, true, 7), queue });
    const running = stream.run(new AbortController().signal);
    await new Promise((r) => setTimeout(r, 50));
    const batches = [];
    while (!(await Promise.race([running.then(() => true), new Promise((r) => setTimeout(() => r(false), 5))]))) {
      batches.push(...(await queue.take(Infinity)).map((x) => decodePacketBatch(x.value)));
    }
    batches.push(...(await drain(queue)));
    const sent = batches.reduce((n, b) => n + b.count, 0);
    const reported = batches.reduce((n, b) => n + b.header.stats.dropped, 0);
    expect(sent).toBe(100);
    expect(reported).toBe(900 + 7);
    const bySecond = batches.flatMap((b) => b.header.stats.dropsBySecond).reduce((n, [, c]) => n + c, 0);
    expect(bySecond).toBe(907);
  });

  it("keeps a file's batches in order while one waits for room: a heartbeat does not overtake it", async () => {
    // Room for one full batch (100 packets, ~2.9 kB) and a heartbeat, not for two full batches.
    const queue = new BatchQueue(4000);
    const stream = new EniStream({ ...options, heartbeatMs: 20, source: memorySource(250, false), queue });
    const running = stream.run(new AbortController().signal);
    await new Promise((r) => setTimeout(r, 150)); // heartbeats are due meanwhile
    const sequences: number[] = [];
    let done = false;
    void running.then(() => (done = true));
    while (!done || queue.length) {
      for (const b of await Promise.race([queue.take(Infinity), new Promise<[]>((r) => setTimeout(() => r([]), 20))]))
        sequences.push(decodePacketBatch(b.value).header.sequence);
    }
    expect(sequences.length).toBeGreaterThanOrEqual(3);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(sequences).toEqual(sequences.map((_, i) => i));
  });

  it("reports event time behind what its packets were seen to lag, so none is late: NFLOG's batches, a file out of order", async () => {
    // A live source of lateness 0 whose packets come in batches 0.8 s after they were stamped, as NFLOG's do.
    const stamped: number[][] = [];
    const lagging: CaptureSource = {
      name: 'lagging',
      live: true,
      lateness: 0,
      total: undefined,
      takeKernelDrops: () => 0,
      async *chunks() {
        for (let round = 0; round < 4; round++) {
          const now = Date.now() / 1000;
          const ts = Array.from({ length: 8 }, (_, i) => now - 0.8 + i * 0.1);
          stamped.push(ts);
          const records = ts.map(record);
          yield { next: () => records.shift() };
          await new Promise((r) => setTimeout(r, 150));
        }
      },
    };
    const queue = new BatchQueue(1 << 30);
    await new EniStream({ ...options, batchPackets: 8, source: lagging, queue }).run(new AbortController().signal);
    const batches = (await drain(queue)).filter((b) => b.count);
    expect(batches).toHaveLength(4);
    // Each batch's event time is behind every packet of the batches after it, and not far behind them.
    for (let i = 0; i < 3; i++) {
      const later = Math.min(...stamped.slice(i + 1).flat());
      expect(batches[i].header.eventTime).toBeLessThanOrEqual(later);
      expect(batches[i].header.eventTime).toBeGreaterThan(later - 0.5);
    }

    // A file: its event time is its newest timestamp less the disorder seen so far.
    const fileQueue = new BatchQueue(1 << 30);
    const disorder: CaptureSource = {
      name: 'file out of order',
      live: false,
      lateness: 0,
      total: undefined,
      takeKernelDrops: () => 0,
      async *chunks() {
        const records = [10, 12, 11.5, 13, 14, 15].map((s) => record(1_700_000_000 + s));
        yield { next: () => records.shift() };
      },
    };
    await new EniStream({ ...options, batchPackets: 3, source: disorder, queue: fileQueue }).run(
      new AbortController().signal,
    );
    const fileBatches = (await drain(fileQueue)).filter((b) => b.count);
    expect(fileBatches.map((b) => b.header.eventTime - 1_700_000_000)).toEqual([11.5, 14.5]);
  });

  describe('a batch that does not fill', () => {
    afterEach(() => vi.useRealTimers());

    it('leaves at most flushMs and a quarter after its first packet, however the earlier batches were timed', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'Date'] });
      // A live source whose packets come when the test releases them (the fourth ends it).
      const released: Array<() => void> = [];
      const source: CaptureSource = {
        name: 'paced',
        live: true,
        lateness: 0,
        total: undefined,
        takeKernelDrops: () => 0,
        async *chunks() {
          for (let i = 0; i < 4; i++) {
            await new Promise<void>((r) => released.push(r));
            const record: CaptureRecord = {
              linkType: LinkType.ETHERNET,
              tsSec: Math.floor(Date.now() / 1000),
              tsNanos: 0,
              caplen: frame.length,
              wireLen: frame.length,
              data: frame,
              frameStart: 0,
              frame,
            };
            let taken = false;
            yield {
              next: () => {
                if (taken) return undefined;
                taken = true;
                return record;
              },
            };
          }
        },
      };
      const queue = new BatchQueue(1 << 30);
      const stream = new EniStream({ ...options, flushMs: 100, heartbeatMs: 60_000, source, queue });
      const running = stream.run(new AbortController().signal);
      const sentAt: number[] = [];
      const packetAt: number[] = [];
      const start = Date.now();
      // Packets at 0, 130 and 290 ms: the second comes just after the first batch left, the third just before a whole flushMs since.
      for (const at of [0, 130, 290]) {
        await vi.advanceTimersByTimeAsync(at - (Date.now() - start));
        packetAt.push(Date.now() - start);
        released.shift()!();
        for (let t = 0; t < 300 && queue.length === 0; t += 5) await vi.advanceTimersByTimeAsync(5);
        sentAt.push(Date.now() - start);
        expect((await queue.take(Infinity)).map((b) => b.packets)).toEqual([1]);
      }
      for (let i = 0; i < 3; i++) {
        expect(sentAt[i] - packetAt[i], `batch ${i}`).toBeGreaterThanOrEqual(100);
        expect(sentAt[i] - packetAt[i], `batch ${i}`).toBeLessThanOrEqual(125 + 5);
      }
      released.shift()!();
      vi.useRealTimers();
      await running;
    });
  });
});
