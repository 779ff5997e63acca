/**
 * One ENI's capture: frames from its source are decoded into packet events and packed into
 * batches, which go to the send queue — when full, every `flushMs`, and as heartbeats when there is
 * no traffic, so the aggregator knows the ENI is live and how far its event time has come.
 */
import {
  PacketBatchBuilder,
  newPacketEvent,
  signBatch,
  type PacketBatchHeader,
  type PacketEvent,
} from '@flowlogs/contracts';
import { PacketEventDecoder, type CaptureCounters, type EniContext } from '@flowlogs/flow';
import { LinkType } from '@flowlogs/packet';
import type { BatchQueue } from './batch-queue.js';
import { DropCounter } from './drop-counter.js';
import type { CaptureSource } from './sources/source.js';
import { VerdictMatcher } from './verdicts.js';

export interface EniStreamOptions {
  eni: EniContext;
  eniIp?: string;
  agentId: string;
  /** The agent's signing secret, from binding the ENI (POST /v1/network-interfaces/:id/agent). */
  secret: string;
  source: CaptureSource;
  queue: BatchQueue;
  batchPackets: number;
  flushMs: number;
  heartbeatMs: number;
  /**
   * The source's NFLOG frames are the verdicts of the host's firewall for its live frames: each
   * packet is held this long to be matched with its verdict (see verdicts.ts).
   */
  verdictHoldMs?: number;
  /** Called after each batch is queued (metrics, progress). */
  onBatch?: (b: { packets: number; skipped: Record<string, number>; dropped: number; frames: number }) => void;
}

/** The lag measured is kept for this long at least (and at most twice): one slow moment does not hold event time back for good. */
const LAG_PERIOD_MS = 60_000;

export class EniStream {
  private readonly decoder: PacketEventDecoder;
  private readonly builder: PacketBatchBuilder;
  private readonly drops = new DropCounter();
  private sequence = 0;
  private frames = 0;
  private reported: CaptureCounters = { received: 0, skipped: {} };
  /** The ENI's event time as its batches report it: a watermark, the source's clock less its lag. */
  private eventTime = 0;
  /** A file's clock: the latest timestamp read. */
  private latestTs = 0;
  /**
   * How far behind its clock the source's packets came (s), the largest this lag period and the
   * one before: how far event time stays behind, beyond the source's own lateness.
   */
  private lag = 0;
  private lagBefore = 0;
  private lagPeriodStart = Date.now();
  private lastSentAt = Date.now();
  /** When the batch being built got its first packet. */
  private batchStartedAt = 0;
  /** Batches made while the previous one waits for room (a file source): kept in order. */
  private pending: Promise<void> = Promise.resolve();
  /** How many batches wait in `pending`. */
  private waiting = 0;
  private readonly verdicts: VerdictMatcher | undefined;

  constructor(private readonly o: EniStreamOptions) {
    this.decoder = new PacketEventDecoder(o.eniIp);
    this.builder = new PacketBatchBuilder(o.batchPackets);
    if (o.verdictHoldMs !== undefined) this.verdicts = new VerdictMatcher(o.verdictHoldMs, (e) => this.append(e));
  }

  get counters(): CaptureCounters {
    return this.decoder.counters;
  }

  /** Runs until the source ends or `signal` aborts; the last batch is queued before it returns. */
  async run(signal: AbortSignal): Promise<CaptureCounters> {
    const { source } = this.o;
    // A quarter of the flush time: a batch leaves at most flushMs (and a quarter) after its first packet.
    const timer = setInterval(() => this.tick(), Math.max(5, Math.min(this.o.flushMs, this.o.heartbeatMs) / 4));
    const event = newPacketEvent();
    const verdicts = this.verdicts;
    try {
      for await (const chunk of source.chunks(signal)) {
        const now = source.live ? Date.now() : 0;
        for (let frame = chunk.next(); frame; frame = chunk.next()) {
          this.frames++;
          if (this.decoder.decode(frame, event) !== null) continue;
          const behind = (source.live ? now / 1000 : this.latestTs) - event.ts;
          if (behind > this.lag) this.lag = behind;
          else if (behind < 0 && !source.live) this.latestTs = event.ts;
          if (verdicts) {
            if (frame.linkType === LinkType.NFLOG) verdicts.addVerdict(event, now);
            else verdicts.addLive(event, now);
          } else if (this.append(event)) {
            await this.pending; // a file waits here while the queue is full
          }
        }
      }
    } finally {
      clearInterval(timer);
    }
    verdicts?.drain();
    // A file read to its end says so: the aggregator may close its windows without waiting for idleness.
    this.flush(true, true, !source.live && !signal.aborted);
    await this.pending;
    return this.decoder.counters;
  }

  /** Adds a packet to the batch; true when that filled it and it was queued. */
  private append(event: PacketEvent): boolean {
    if (!this.builder.count) this.batchStartedAt = Date.now();
    this.builder.append(event);
    if (this.builder.count < this.o.batchPackets) return false;
    this.flush();
    return true;
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lagPeriodStart >= LAG_PERIOD_MS) {
      this.lagBefore = this.lag;
      this.lag = 0;
      this.lagPeriodStart = now;
    }
    this.verdicts?.release(now);
    if (this.builder.count && now - this.batchStartedAt >= this.o.flushMs) this.flush();
    else if (now - this.lastSentAt >= this.o.heartbeatMs) this.flush(true);
  }

  /**
   * Queues what the builder holds (with `always`, also an empty heartbeat; `final` waits for room
   * even for live traffic; `ended` marks the last batch of a source read to its end).
   */
  private flush(always = false, final = false, ended = false): void {
    const { source } = this.o;
    const kernelDrops = source.takeKernelDrops();
    // Packets held for their verdicts leave holdMs after they came: the source's clock is that far behind.
    const clock = source.live ? (Date.now() - (this.o.verdictHoldMs ?? 0)) / 1000 : this.latestTs;
    this.eventTime = Math.max(this.eventTime, clock - Math.max(source.lateness, this.lag, this.lagBefore));
    if (kernelDrops) this.drops.add(this.eventTime, kernelDrops);
    const { received, skipped } = this.decoder.counters;
    if (!always && !this.builder.count && received === this.reported.received) return;
    const delta: Record<string, number> = {};
    for (const [k, n] of Object.entries(skipped))
      if (n - (this.reported.skipped[k] ?? 0)) delta[k] = n - (this.reported.skipped[k] ?? 0);
    const { dropped, dropsBySecond } = this.drops.take();
    const { eni } = this.o;
    const header: PacketBatchHeader = {
      eniId: eni.eniId,
      accountId: eni.accountId,
      vpcId: eni.vpcId,
      subnetId: eni.subnetId,
      agentId: this.o.agentId,
      sequence: this.sequence++,
      eventTime: this.eventTime,
      live: this.o.source.live,
      ended,
      stats: { received: received - this.reported.received, dropped, skipped: delta, dropsBySecond },
    };
    const previouslyReported = this.reported;
    this.reported = { received, skipped: { ...skipped } };
    const packets = this.builder.count;
    const value = this.builder.finish(header);
    const batch = { key: eni.eniId, value, signature: signBatch(this.o.secret, value), packets };
    this.lastSentAt = Date.now();
    const report = () => this.o.onBatch?.({ packets, skipped: delta, dropped, frames: this.frames });
    // Behind a batch still waiting for room, a batch waits too: batches reach Kafka in their order.
    if (!this.waiting && this.o.queue.offer(batch)) {
      report();
    } else if (this.o.source.live && !final) {
      // Live traffic cannot wait: the packets are lost, and they and this batch's counts go in the next batch.
      this.sequence--;
      this.reported = previouslyReported;
      for (const [second, n] of dropsBySecond) this.drops.add(second, n);
      this.drops.add(this.eventTime, packets);
    } else {
      this.waiting++;
      this.pending = this.pending
        .then(() => this.o.queue.put(batch))
        .then(() => {
          this.waiting--;
          report();
        });
    }
  }
}
