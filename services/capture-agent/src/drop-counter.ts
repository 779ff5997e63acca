/** Packets lost before sending, per unix second of capture time: the aggregator turns them into SKIPDATA per window. Pure. */
export class DropCounter {
  private bySecond = new Map<number, number>();
  private total = 0;

  add(ts: number, count = 1): void {
    const second = Math.floor(ts);
    this.bySecond.set(second, (this.bySecond.get(second) ?? 0) + count);
    this.total += count;
  }

  /** The drops since the last call, oldest second first. */
  take(): { dropped: number; dropsBySecond: Array<[number, number]> } {
    const dropsBySecond = [...this.bySecond].sort((a, b) => a[0] - b[0]);
    const dropped = this.total;
    this.bySecond = new Map();
    this.total = 0;
    return { dropped, dropsBySecond };
  }
}
