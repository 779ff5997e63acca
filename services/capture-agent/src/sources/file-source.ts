/** A capture file replayed at full speed or at capture speed, optionally with timestamps moved to now. */
import { CaptureFormatError, readCaptureFile, type CaptureRecord } from '@flowlogs/packet';
import { ReplayClock } from '../pacing.js';
import type { CaptureSource } from './source.js';

export interface FileSourceOptions {
  path: string;
  speed: 'max' | 'capture';
  /** Move timestamps to now: the capture ends now at full speed; each packet is stamped when it is sent at capture speed. */
  rebase: boolean;
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

const sleep = (s: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, s * 1000);
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});

export async function fileSource(o: FileSourceOptions): Promise<CaptureSource> {
  const span = await scanCapture(o.path);
  return {
    name: `file ${o.path}`,
    live: false,
    total: span.packets,
    takeKernelDrops: () => 0,
    async *frames(signal: AbortSignal): AsyncIterable<CaptureRecord> {
      const nowS = Date.now() / 1000;
      const shift = o.rebase && span.packets ? Math.floor(nowS - (o.speed === 'capture' ? span.firstTs : span.lastTs)) : 0;
      const clock = new ReplayClock();
      try {
        for await (const record of readCaptureFile(o.path)) {
          if (signal.aborted) return;
          if (o.speed === 'capture') {
            const wait = clock.delayFor(record.tsSec + record.tsNanos / 1e9);
            if (wait > 0) await sleep(wait, signal);
          }
          record.tsSec += shift;
          yield record;
        }
      } catch (err) {
        if (!(err instanceof CaptureFormatError)) throw err;
        o.onFormatError?.(err);
      }
    },
  };
}
