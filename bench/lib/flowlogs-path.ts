/**
 * flowlogs' capture path over a file, cut at four depths so a run shows where
 * the time goes:
 *   fs-read  – the file's chunks only (4 MiB reads into reused buffers, one in flight while the
 *              previous is looked at, as readCaptureFile reads)
 *   read     – readCaptureChunks: chunks parsed into records
 *   decode   – + PacketEventDecoder.decode into one reused PacketEvent
 *   batch    – the agent's own EniStream over its file source, batches of `batchPackets` into its
 *              send queue (drained here instead of by Kafka)
 *   aggregate – the aggregator's core on those batches (made first, untimed): decodePacketBatch,
 *              FlowWindows for one rule of 60-second windows, closeDue after each batch as the
 *              aggregator does, and the records as the JSON it sends; times only this part. Before
 *              it, untimed, what an open flow costs: every batch into fresh windows that are never
 *              closed, heap and array buffers measured after full GCs before and after (needs --expose-gc)
 * Each mode runs in its own process (see capture.ts) so its peak RSS is its own.
 */
import { open, stat } from 'node:fs/promises';
import { BatchQueue, EniStream, fileSource, type QueuedBatch } from '@flowlogs/capture-agent';
import {
  decodePacketBatch,
  newPacketEvent,
  untrustedBecause,
  type EniBinding,
  type FlowLogRule,
} from '@flowlogs/contracts';
import { FlowWindows, PacketEventDecoder } from '@flowlogs/flow';
import { readCaptureChunks } from '@flowlogs/packet';

export const MODES = ['fs-read', 'read', 'decode', 'batch', 'aggregate'] as const;
export type Mode = (typeof MODES)[number];

export interface PathResult {
  mode: Mode;
  packets: number;
  /** Packets decoded into events (decode and batch modes). */
  decoded: number;
  /** Bytes of the file read. */
  fileBytes: number;
  batches: number;
  /** Bytes of the encoded batches (batch mode) or of the records' JSON (aggregate mode): keeps the work observable. */
  batchBytes: number;
  /** Flow records made (aggregate mode). */
  records: number;
  /** Aggregate mode with --expose-gc: flows held open at once, and what they added to the heap and to array buffers. */
  memory?: { openFlows: number; heapBytes: number; arrayBytes: number };
  /** Seconds from opening the file to the last record (process start-up excluded). */
  elapsedSec: number;
  /** process.resourceUsage().maxRSS, KiB. */
  maxRssKb: number;
  cpuUserSec: number;
  cpuSysSec: number;
}

const READ_CHUNK_BYTES = 4 * 1024 * 1024;

export async function runPath(mode: Mode, path: string, batchPackets = 4096): Promise<PathResult> {
  const result: PathResult = {
    mode,
    packets: 0,
    decoded: 0,
    fileBytes: 0,
    batches: 0,
    batchBytes: 0,
    records: 0,
    elapsedSec: 0,
    maxRssKb: 0,
    cpuUserSec: 0,
    cpuSysSec: 0,
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (mode === 'fs-read') {
    const file = await open(path, 'r');
    try {
      const buffers = [Buffer.allocUnsafeSlow(READ_CHUNK_BYTES), Buffer.allocUnsafeSlow(READ_CHUNK_BYTES)];
      let reading = file.read(buffers[0], 0, READ_CHUNK_BYTES, null);
      for (let i = 1; ; i++) {
        const { bytesRead } = await reading;
        if (bytesRead === 0) break;
        reading = file.read(buffers[i % 2], 0, READ_CHUNK_BYTES, null);
        result.fileBytes += bytesRead;
      }
    } finally {
      await file.close();
    }
  } else if (mode === 'read') {
    for await (const chunk of readCaptureChunks(path)) {
      for (let record = chunk.next(); record; record = chunk.next()) {
        result.packets++;
        result.fileBytes += record.caplen + 16;
      }
    }
  } else if (mode === 'decode') {
    const decoder = new PacketEventDecoder();
    const event = newPacketEvent();
    for await (const chunk of readCaptureChunks(path)) {
      for (let record = chunk.next(); record; record = chunk.next()) {
        result.packets++;
        result.fileBytes += record.caplen + 16;
        if (decoder.decode(record, event) === null) result.decoded++;
      }
    }
  } else if (mode === 'batch') {
    const counts = await agentBatches(path, batchPackets, (b) => {
      result.batches++;
      result.batchBytes += b.value.length;
    });
    result.packets = counts.received;
    result.decoded = counts.decoded;
    result.fileBytes = (await stat(path)).size;
  } else {
    const batches: QueuedBatch[] = [];
    result.decoded = (await agentBatches(path, batchPackets, (b) => batches.push(b))).decoded;
    result.fileBytes = (await stat(path)).size;
    result.memory = await openFlowMemory(batches);
    const cpuAggregate = process.cpuUsage();
    const tAggregate = performance.now();
    const windows = new FlowWindows({ allowedLateness: 5 });
    const event = newPacketEvent();
    const emit = (records: unknown[]) => {
      result.records += records.length;
      if (records.length) result.batchBytes += JSON.stringify({ records }).length;
    };
    for (let offset = 0; offset < batches.length; offset++) {
      const { value, signature } = batches[offset];
      const view = decodePacketBatch(value);
      // The aggregator's check that the ENI's bound agent signed the batch: one HMAC per batch.
      if (untrustedBecause(BENCH_BINDING, view.header, value, signature))
        throw new Error('the bench batch is not trusted');
      for (let i = 0; i < view.count; i++) windows.add(BENCH_RULE, view.header, view.read(i, event), offset);
      windows.advance(view.header, view.header.eventTime);
      emit(windows.closeDue());
      result.packets += view.count;
      result.batches++;
    }
    emit(windows.closeAll());
    finish(result, tAggregate, cpuAggregate);
    return result;
  }
  finish(result, t0, cpu0);
  if (mode !== 'fs-read') result.fileBytes += 24; // the global header
  return result;
}

const BENCH_ENI = {
  eniId: 'eni-bench0001',
  accountId: 'acct-bench',
  vpcId: 'vpc-bench0001',
  subnetId: 'subnet-bench0001',
};
/** Any 32 bytes: the agent signs each batch (that cost is part of the path); nothing here checks it. */
const BENCH_SECRET = Buffer.alloc(32, 7).toString('base64url');
const BENCH_BINDING: EniBinding = { ...BENCH_ENI, agentId: 'bench', secret: BENCH_SECRET };
const BENCH_RULE: FlowLogRule = {
  id: 'fl-bench',
  accountId: BENCH_ENI.accountId,
  name: 'bench',
  resourceType: 'NETWORKINTERFACE',
  resourceId: BENCH_ENI.eniId,
  trafficType: 'ALL',
  logTopicId: 'topic-bench',
  aggregationInterval: 60,
  enabled: true,
  revision: 1,
};

/** The agent's own EniStream over the file, its batches handed to `onBatch` instead of Kafka; how many frames it read and decoded. */
async function agentBatches(path: string, batchPackets: number, onBatch: (b: QueuedBatch) => void) {
  const queue = new BatchQueue(64 << 20);
  const stream = new EniStream({
    eni: BENCH_ENI,
    agentId: 'bench',
    secret: BENCH_SECRET,
    source: await fileSource({ path, speed: 'max', rebase: false }),
    queue,
    batchPackets,
    flushMs: 200,
    heartbeatMs: 5000,
  });
  const draining = (async () => {
    for (let taken = await queue.take(1 << 20); taken.length; taken = await queue.take(1 << 20))
      for (const b of taken) onBatch(b);
  })();
  const counters = await stream.run(new AbortController().signal);
  queue.close();
  await draining;
  return {
    received: counters.received,
    decoded: counters.received - Object.values(counters.skipped).reduce((a, b) => a + b, 0),
  };
}

/** Every batch's packets into windows that are never closed, so all their flows are open at once; undefined without --expose-gc. */
async function openFlowMemory(batches: QueuedBatch[]): Promise<PathResult['memory']> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  // Twice, a turn apart: array buffers given up (the table's arrays before it grew) are freed by then.
  const used = async () => {
    gc();
    await new Promise((r) => setTimeout(r, 50));
    gc();
    const m = process.memoryUsage();
    return { heap: m.heapUsed, arrays: m.arrayBuffers };
  };
  const before = await used();
  const windows = new FlowWindows({ allowedLateness: Infinity });
  const event = newPacketEvent();
  for (let offset = 0; offset < batches.length; offset++) {
    const view = decodePacketBatch(batches[offset].value);
    for (let i = 0; i < view.count; i++) windows.add(BENCH_RULE, view.header, view.read(i, event), offset);
  }
  const after = await used();
  return {
    openFlows: windows.activeFlows,
    heapBytes: after.heap - before.heap,
    arrayBytes: after.arrays - before.arrays,
  };
}

function finish(result: PathResult, t0: number, cpu0: NodeJS.CpuUsage): void {
  result.elapsedSec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  result.cpuUserSec = cpu.user / 1e6;
  result.cpuSysSec = cpu.system / 1e6;
  result.maxRssKb = process.resourceUsage().maxRSS;
}
