/**
 * A compacted settings topic (rules, log topics) read whole from the beginning at every start, and
 * followed: each service instance has a consumer group of its own, never committed.
 */
import type { Admin } from 'kafkajs';
import type { Logger } from '@flowlogs/runtime';
import { FETCH_MAX_WAIT_MS, SupervisedConsumer, type Kafka } from './client.js';

export class CompactedTopicReader {
  /** Next offset to read on each partition, as far as the consumer got. */
  private readonly next = new Map<number, number>();
  private consumer: SupervisedConsumer | undefined;

  /** `apply` gets each keyed message (a null value is a tombstone) in order; `onRestart` runs before a replacement rereads it all. */
  constructor(
    private readonly kafka: Kafka,
    private readonly log: Logger,
    private readonly topic: string,
    private readonly groupPrefix: string,
    private readonly apply: (key: string, value: Buffer | null) => void,
  ) {}

  async start(): Promise<void> {
    this.consumer = new SupervisedConsumer(
      () =>
        this.kafka.consumer({
          groupId: `${this.groupPrefix}.${process.pid}.${Date.now()}`,
          maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
        }),
      async (consumer) => {
        await consumer.connect();
        await consumer.subscribe({ topic: this.topic, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            this.next.set(partition, Number(message.offset) + 1);
            const key = message.key?.toString();
            if (key) this.apply(key, message.value);
          },
        });
      },
      this.log,
      () => this.next.clear(),
    );
    await this.consumer.run();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }

  /**
   * The keys that hold a value on a compacted topic, read as far as it gets in `timeoutMs` (a partial
   * read answers fewer keys, never a deleted one).
   */
  static async liveKeys(
    kafka: Kafka,
    log: Logger,
    admin: Admin,
    topic: string,
    groupPrefix: string,
    timeoutMs = 10_000,
  ): Promise<Set<string>> {
    const keys = new Set<string>();
    const reader = new CompactedTopicReader(kafka, log, topic, groupPrefix, (key, value) =>
      value ? keys.add(key) : keys.delete(key),
    );
    const deadline = Date.now() + timeoutMs;
    // A topic just made is unknown to some brokers of a cluster for a moment (UNKNOWN_TOPIC_OR_PARTITION
    // while its metadata spreads): the consumer's start is tried again until the deadline.
    for (;;) {
      try {
        await reader.start();
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          log.warn({ topic, err: (err as Error).message }, 'could not read the topic; going on without its keys');
          return keys;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    try {
      await reader.caughtUp(admin, Math.max(0, deadline - Date.now()));
    } finally {
      await reader.stop();
    }
    return keys;
  }

  /**
   * Waits until every message written to the topic so far is applied (a setting acknowledged before
   * some input was produced applies to it), at most `timeoutMs`; answers whether it got there.
   */
  async caughtUp(admin: Admin, timeoutMs = 10_000): Promise<boolean> {
    if (await this.reached(admin, timeoutMs)) return true;
    this.log.warn({ topic: this.topic }, 'settings consumer is behind; going on with the settings read so far');
    return false;
  }

  /**
   * Waits however long it takes until every message written to the topic so far is applied, warning
   * every `warnEveryMs`: input is processed only with every setting written before it. Going on
   * without them lost records for good: a broker killed while the aggregator started left the rules
   * unread for more than 10 s, and the packets of those seconds matched no flow log
   * (test/faults/broker-leader-restart.test.ts).
   */
  async waitCaughtUp(admin: Admin, warnEveryMs = 10_000): Promise<void> {
    const started = Date.now();
    for (;;) {
      if (await this.reached(admin, warnEveryMs)) return;
      this.log.warn(
        { topic: this.topic, waitedMs: Date.now() - started },
        'settings consumer is behind; input waits for it',
      );
    }
  }

  private async reached(admin: Admin, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    // The topic's end offsets are unavailable while its leader is away, or not yet elected for a topic
    // just made: asked again.
    let ends: Awaited<ReturnType<Admin['fetchTopicOffsets']>> | undefined;
    for (;;) {
      ends = await admin.fetchTopicOffsets(this.topic).catch(() => undefined);
      if (ends) break;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    while (ends.some((e) => (this.next.get(e.partition) ?? 0) < Number(e.high))) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }
}
