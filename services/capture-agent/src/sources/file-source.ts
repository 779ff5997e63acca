/** A capture file replayed at full speed or at capture speed, optionally with timestamps moved to now. */
import {
  CaptureFormatError,
  readCaptureChunks,
  readCaptureFile,
  type CaptureRecord,
  type RecordReader,
} from '@flowlogs/packet';
import { ReplayClock } from '../pacing.js';
import type { CaptureSource } from './source.js';

export interface FileSourceOptions {
  path: string;
  speed: 'max' | 'capture';
  /**
   * Move timestamps to now: each packet is stamped when it is sent, in capture order. At capture speed
   * that keeps the spacing; at full speed the spacing is lost, which is the point: a capture ending now
   * with its spacing kept would start in the past (dns.pcap spans 12 years), and the aggregator takes
   * packets of windows it has already closed for other ENIs as late (SKIPDATA, nothing stored).
   */
  rebase: boolean;
  /** Count the frames up front (a progress bar): one more pass over the file. */
  countFrames?: boolean;
  /** Called with the error that ended a corrupt file early (the frames before it were delivered). */
  onFormatError?: (err: CaptureFormatError) => void;
}

export interface CaptureSpan {
  packets: number;
  firstTs: number;
  lastTs: number;
}

/** One pass over a capture for its packet count and time span (progress and rebasing). */
export async function scanCapture(path: string): Promise<CaptureSpan> {
  const span = { packets: 0, firstTs: Infinity, lastTs: -Infinity };
  try {
    for await (const chunk of readCaptureChunks(path)) {
      for (let r = chunk.next(); r; r = chunk.next()) {
        const ts = r.tsSec + r.tsNanos / 1e9;
        span.packets++;
        if (ts < span.firstTs) span.firstTs = ts;
        if (ts > span.lastTs) span.lastTs = ts;
      }
    }
  } catch (err) {
    if (!(err instanceof CaptureFormatError)) throw err;
  }
  return span;
}

const sleep = (s: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, s * 1000);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

export async function fileSource(o: FileSourceOptions): Promise<CaptureSource> {
  // Only rebasing at capture speed and progress need the span: a plain replay reads the file once.
  const span = (o.rebase && o.speed === 'capture') || o.countFrames ? await scanCapture(o.path) : undefined;
  return {
    name: `file ${o.path}`,
    live: false,
    // A capture file is in capture order; any disorder in it is measured as it is read.
    lateness: 0,
    total: span?.packets,
    takeKernelDrops: () => 0,
    async *chunks(signal: AbortSignal): AsyncIterable<RecordReader> {
      // Exact to the millisecond (whole seconds would leave event time up to a second behind the wall clock).
      const shiftMs = o.rebase && span?.packets ? Date.now() - Math.round(span.firstTs * 1000) : 0;
      const shiftSec = Math.floor(shiftMs / 1000);
      const shiftNanos = (shiftMs - shiftSec * 1000) * 1_000_000;
      const shifted = (record: CaptureRecord | undefined) => {
        if (record && shiftMs) {
          record.tsSec += shiftSec;
          record.tsNanos += shiftNanos;
          if (record.tsNanos >= 1e9) {
            record.tsNanos -= 1e9;
            record.tsSec += 1;
          }
        }
        return record;
      };
      let sentMs = 0;
      /** At full speed, rebased: the moment it is sent (never before the previous packet's). */
      const stamped = (record: CaptureRecord | undefined) => {
        if (record) {
          sentMs = Math.max(sentMs, Date.now());
          record.tsSec = Math.floor(sentMs / 1000);
          record.tsNanos = (sentMs % 1000) * 1_000_000;
        }
        return record;
      };
      try {
        if (o.speed === 'max') {
          const stamp = o.rebase ? stamped : (record: CaptureRecord | undefined) => record;
          for await (const chunk of readCaptureChunks(o.path)) {
            if (signal.aborted) return;
            yield { next: () => stamp(chunk.next()) };
          }
          return;
        }
        // At capture speed each record waits for its moment: one record a chunk.
        const clock = new ReplayClock();
        for await (const record of readCaptureFile(o.path)) {
          if (signal.aborted) return;
          const wait = clock.delayFor(record.tsSec + record.tsNanos / 1e9);
          if (wait > 0) await sleep(wait, signal);
          let taken = false;
          yield {
            next: () => {
              if (taken) return undefined;
              taken = true;
              return shifted(record);
            },
          };
        }
      } catch (err) {
        if (!(err instanceof CaptureFormatError)) throw err;
        o.onFormatError?.(err);
      }
    },
  };
}
