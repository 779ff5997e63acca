import type { RecordReader } from '@flowlogs/packet';

/** Where an ENI's frames come from: a capture file, a live interface, nflog verdicts. */
export interface CaptureSource {
  /** A short description for logs, e.g. "file capture.pcap" or "live eth0". */
  readonly name: string;
  /** Live traffic cannot wait: when the send queue is full its packets are dropped and counted. A file waits. */
  readonly live: boolean;
  /**
   * Seconds its frames may come behind its clock (the wall clock when live, the latest timestamp
   * read for a file) at the least: the ENI's event time runs that far behind, so they are not late.
   * What is measured beyond it counts too (EniStream).
   */
  readonly lateness: number;
  /** Frames when known up front (progress). */
  readonly total: number | undefined;
  /**
   * Frames in capture order, a chunk at a time, until the source ends or `signal` aborts: read each
   * chunk's records with next() until it answers undefined. A record is valid until the next is taken.
   */
  chunks(signal: AbortSignal): AsyncIterable<RecordReader>;
  /** Packets the kernel dropped since the last call (0 where there is no kernel in between). */
  takeKernelDrops(): number;
}
