/**
 * One ENI's capture file into the packets topic, to the end: what `flowlogs replay` runs, and the
 * agent's own sources in a test. Decoding and batching as the agent does it, with a progress callback.
 */
import type { Producer } from 'kafkajs';
import type { CaptureCounters, EniContext } from '@flowlogs/flow';
import type { Logger } from '@flowlogs/runtime';
import { BatchQueue } from './batch-queue.js';
import { EniStream } from './eni-stream.js';
import { sendQueued } from './sender.js';
import { fileSource } from './sources/file-source.js';

export interface ReplayProgress {
  frames: number;
  total: number | undefined;
  batches: number;
}

export interface ReplayOptions {
  producer: Producer;
  topic: string;
  log: Logger;
  eni: EniContext;
  eniIp?: string;
  agentId: string;
  /** The agent's signing secret for the ENI (bindAgent). */
  secret: string;
  path: string;
  speed: 'max' | 'capture';
  rebase: boolean;
  batchPackets: number;
  queueBytes?: number;
  signal?: AbortSignal;
  onProgress?: (p: ReplayProgress) => void;
}

export async function replayCapture(o: ReplayOptions): Promise<CaptureCounters> {
  const source = await fileSource({
    path: o.path,
    speed: o.speed,
    rebase: o.rebase,
    countFrames: o.onProgress !== undefined,
    onFormatError: (err) => o.log.warn({ err: err.message, path: o.path }, 'capture ends early: corrupt'),
  });
  const queue = new BatchQueue(o.queueBytes ?? 64 << 20);
  const progress: ReplayProgress = { frames: 0, total: source.total, batches: 0 };
  const stream = new EniStream({
    eni: o.eni,
    eniIp: o.eniIp,
    agentId: o.agentId,
    secret: o.secret,
    source,
    queue,
    batchPackets: o.batchPackets,
    flushMs: 200,
    heartbeatMs: 5000,
    onBatch: ({ frames }) => {
      progress.frames = frames;
      progress.batches++;
      o.onProgress?.(progress);
    },
  });
  const sending = sendQueued(queue, o.producer, o.topic, o.log);
  const counters = await stream.run(o.signal ?? new AbortController().signal);
  queue.close();
  await sending;
  return counters;
}
