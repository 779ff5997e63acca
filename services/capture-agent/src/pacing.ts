/** Timing of a replay: at capture speed, a packet is due when as much wall time has passed as capture time. Pure. */
export class ReplayClock {
  private firstTs: number | undefined;
  private startedAt = 0;

  constructor(private readonly now: () => number = () => Date.now() / 1000) {}

  /** Seconds to wait before the packet with capture timestamp `ts` is due (0 when it is due now). */
  delayFor(ts: number): number {
    if (this.firstTs === undefined) {
      this.firstTs = ts;
      this.startedAt = this.now();
      return 0;
    }
    return Math.max(0, ts - this.firstTs - (this.now() - this.startedAt));
  }
}
