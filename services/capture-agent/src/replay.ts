/**
 * Replays a capture file for one ENI into the packets topic: decode, batch, publish; at full speed
 * or at capture speed, optionally with timestamps moved to now.
 */
import type { Producer } from 'kafkajs';
import { PacketBatchBuilder, newPacketEvent, type PacketBatchHeader } from '@flowlogs/contracts';
import { PacketEventDecoder, type CaptureCounters, type EniContext } from '@flowlogs/flow';
import { CaptureFormatError, readCaptureFile } from '@flowlogs/packet';
import { ReplayClock } from './pacing.js';

export interface ReplayProgress {
  packets: number;
  total: number | undefined;
  batches: number;
}

export interface ReplayOptions {
  producer: Producer;
  topic: string;
  eni: EniContext;
  eniIp?: string;
  agentId: string;
  path: string;
  speed: 'max' | 'capture';
  rebase: boolean;
  batchPackets: number;
  /** Added to every timestamp (a loop's later rounds). */
  shift?: number;
  signal?: AbortSignal;
  onProgress?: (p: ReplayProgress) => void;
  onBatch?: (counters: { packets: number; skipped: Record<string, number> }) => void;
}

export interface CaptureSpan {
  packets: number;
  firstTs: number;
  lastTs: number;
}

/** One pass over a capture for its packet count and time span (progress, rebasing, looping). */
export async function scanCapture(path: string): Promise<CaptureSpan> {
  const span = { packets: 0, firstTs: Infinity, lastTs: -Infinity };
  try {
    for await (const r of readCaptureFile(path)) {
      const ts = r.tsSec + r.tsNanos / 1e9;
      span.packets++;
      if (ts < span.firstTs) span.firstTs = ts;
      if (ts > span.lastTs) span.lastTs = ts;
    }
  } catch (err) {
    if (!(err instanceof CaptureFormatError)) throw err;
  }
  return span;
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

export async function replayCapture(o: ReplayOptions): Promise<CaptureCounters> {
  const span = await scanCapture(o.path);
  let shift = o.shift ?? 0;
  if (o.rebase && span.packets) shift += (o.speed === 'capture' ? Date.now() / 1000 - span.firstTs : Date.now() / 1000 - span.lastTs);
  const decoder = new PacketEventDecoder(o.eniIp);
  const builder = new PacketBatchBuilder(o.batchPackets);
  const clock = new ReplayClock();
  const event = newPacketEvent();
  const progress: ReplayProgress = { packets: 0, total: span.packets, batches: 0 };
  let sequence = 0;
  let reported = { received: 0, skipped: {} as Record<string, number> };

  const flush = async () => {
    const { received, skipped } = decoder.counters;
    const delta: Record<string, number> = {};
    for (const [k, n] of Object.entries(skipped)) delta[k] = n - (reported.skipped[k] ?? 0);
    const header: PacketBatchHeader = {
      eniId: o.eni.eniId, accountId: o.eni.accountId, vpcId: o.eni.vpcId, subnetId: o.eni.subnetId, agentId: o.agentId,
      sequence: sequence++, stats: { received: received - reported.received, dropped: 0, skipped: delta },
    };
    const packets = builder.count;
    await o.producer.send({ topic: o.topic, acks: -1, messages: [{ key: o.eni.eniId, value: builder.finish(header) }] });
    reported = { received, skipped: { ...skipped } };
    progress.batches++;
    o.onBatch?.({ packets, skipped: delta });
    o.onProgress?.(progress);
  };

  try {
    for await (const record of readCaptureFile(o.path)) {
      if (o.signal?.aborted) break;
      progress.packets++;
      if (decoder.decode(record, event) !== null) continue;
      if (o.speed === 'capture') {
        const wait = clock.delayFor(event.ts);
        if (wait > 0) {
          if (builder.count) await flush(); // what was read so far is published before waiting
          await sleep(wait);
        }
      }
      event.ts += shift;
      builder.append(event);
      if (builder.count >= o.batchPackets) await flush();
    }
  } catch (err) {
    if (!(err instanceof CaptureFormatError)) throw err;
    decoder.countFormatError();
  }
  if (builder.count || decoder.counters.received > reported.received) await flush();
  return decoder.counters;
}
