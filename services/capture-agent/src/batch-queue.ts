/**
 * The bounded queue between capture and Kafka: memory stays bounded when Kafka is slow or down.
 * A producer that can wait (a file) awaits room; one that cannot (live traffic) is told no. Pure.
 */
export interface QueuedBatch {
  key: string;
  value: Buffer;
  /** The agent's HMAC of `value` (the Kafka header flowlogs-signature). */
  signature: string;
  packets: number;
}

export class BatchQueue {
  private readonly items: QueuedBatch[] = [];
  private queuedBytes = 0;
  private roomWaiters: Array<() => void> = [];
  private itemWaiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.queuedBytes;
  }

  get length(): number {
    return this.items.length;
  }

  /** Adds the batch when it fits (an empty queue always takes one, however large); false when full. */
  offer(batch: QueuedBatch): boolean {
    if (this.items.length && this.queuedBytes + batch.value.length > this.maxBytes) return false;
    this.items.push(batch);
    this.queuedBytes += batch.value.length;
    this.wake('itemWaiters');
    return true;
  }

  /** Adds the batch, waiting for room. */
  async put(batch: QueuedBatch): Promise<void> {
    while (!this.offer(batch)) await new Promise<void>((r) => this.roomWaiters.push(r));
  }

  /** Takes batches of up to `maxBytes` together (at least one), waiting for one; an empty array once closed and drained. */
  async take(maxBytes: number): Promise<QueuedBatch[]> {
    while (!this.items.length && !this.closed) await new Promise<void>((r) => this.itemWaiters.push(r));
    let n = 0;
    for (let bytes = 0; n < this.items.length && (n === 0 || bytes + this.items[n].value.length <= maxBytes); n++)
      bytes += this.items[n].value.length;
    const out = this.items.splice(0, n);
    for (const b of out) this.queuedBytes -= b.value.length;
    if (out.length) this.wake('roomWaiters');
    return out;
  }

  /** No more batches will be put: take() drains what is left, then returns []. */
  close(): void {
    this.closed = true;
    this.wake('itemWaiters');
  }

  private wake(which: 'roomWaiters' | 'itemWaiters'): void {
    const waiters = this[which];
    this[which] = [];
    for (const w of waiters) w();
  }
}
