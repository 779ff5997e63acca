/**
 * One exactly-once stage (the Kafka Streams idea): a consumer of an input topic, a processor given
 * by the service, and a transactional producer per input partition. What a batch of input yields —
 * messages to other topics, dead letters, the offset to commit and its metadata — is committed in
 * one Kafka transaction with that offset, so a crash, a kill or a rebalance replays without
 * duplicating. The service keeps only what it does to its input (the Processor).
 */
import type { Admin, Batch, ConsumerConfig, EachBatchPayload, KafkaMessage, Message } from 'kafkajs';
import type { Logger } from '@flowlogs/runtime';
import {
  FETCH_MAX_WAIT_MS,
  GROUP_TIMING,
  SupervisedConsumer,
  reliableProducer,
  retriedLevel,
  sendBounded,
  type Kafka,
} from './client.js';
import { deadLetter } from './dlq.js';
import { stableOffsetsOf } from './stable-offsets.js';

// A taken-over partition's committed offset is read again this often while a transaction's offsets for it are pending.
const STABLE_OFFSET_RETRY_MS = 100;

/** What a partition's input commits: sent with its offset in one transaction. */
export interface StageOutput {
  /** Messages per topic. */
  messages?: Iterable<[topic: string, messages: Message[]]>;
  deadLetters?: Message[];
  /** The next input offset to read after this commit; by default the one after the last processed. */
  offset?: number;
  /** Stored with the committed offset; given back to `open` when the partition is next opened. */
  metadata?: string;
  /** Runs once the transaction has committed. */
  committed?: () => void;
}

/** A partition's place in its input, kept by the stage. */
export interface StagePosition {
  partition: number;
  /** The last input offset processed by this partition state (-1 before any). */
  lastProcessed: number;
  /** Date.now() of the last batch of input. */
  lastInputAt: number;
}

/** What a service does to its input; `S` is its state of one input partition. */
export interface Processor<S> {
  /**
   * A partition's state, made at its first batch after an assignment or a rewind, once its
   * producer has waited out any transaction of the previous owner: `committed` is then final.
   */
  open(partition: number, committed: { offset: number; metadata: string | undefined }): S | Promise<S>;
  /** Runs before each batch (a service may wait for its settings to catch up). */
  beforeBatch?(): Promise<void>;
  /** One input message into the state; what it throws sends the message to the dead-letter topic. */
  read(state: S, message: KafkaMessage, offset: number): void;
  /** After a batch's messages were read: what to commit. */
  complete(
    state: S,
    batch: { position: StagePosition; highWatermark: number; heartbeat(): Promise<void> },
  ): StageOutput | Promise<StageOutput>;
  /** A message sent to the dead-letter topic (counted by the service). */
  deadLettered(partition: number, offset: string, err: Error): void;
  /**
   * Idle partitions (all their input read): `idle` answers what one commits now, or undefined when
   * it has nothing to; asked every idleIntervalMs.
   */
  idle?(state: S, position: StagePosition, now: number): (() => StageOutput) | undefined;
  /** The state goes (a rejoin, a failed commit, stop): nothing of it is committed any more. */
  close?(state: S): void;
}

export interface StageOptions<S> {
  kafka: Kafka;
  log: Logger;
  /** The consumer group; transactional ids are `${groupId}.${input}.${partition}`. */
  groupId: string;
  input: string;
  dlq: string;
  processor: Processor<S>;
  /** Fetch sizes and the like. */
  consumer?: Partial<ConsumerConfig>;
  idleIntervalMs?: number;
}

interface Partition<S> {
  position: StagePosition;
  state: S;
  producer: ReturnType<typeof reliableProducer>;
  /** The first input offset this state read (-1 before any): where a replay starts when nothing is committed. */
  firstRead: number;
  committed: number;
  /** Serialises the batch handler and the idle closer of one partition. */
  lock: Promise<unknown>;
}

export class TransactionalStage<S> {
  private readonly partitions = new Map<number, Partition<S>>();
  /** Partitions sent back after a failed commit, and where to: their next state must start there (see resumesInput). */
  private readonly rewinds = new Map<number, { offset: number; sought: boolean }>();
  private admin: Admin | undefined;
  private consumer: SupervisedConsumer | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private closingIdle = false;

  constructor(private readonly options: StageOptions<S>) {}

  /** The states of the partitions this instance holds now. */
  get states(): S[] {
    return [...this.partitions.values()].map((p) => p.state);
  }

  async start(): Promise<void> {
    const { kafka, log, groupId, input, consumer: config } = this.options;
    this.admin = kafka.admin();
    await this.admin.connect();
    // A replaced consumer resumes from the committed offsets: the states built past them go too.
    this.consumer = new SupervisedConsumer(
      () => {
        const consumer = kafka.consumer({
          maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
          ...GROUP_TIMING,
          ...config,
          groupId,
          readUncommitted: false,
        });
        consumer.on(consumer.events.GROUP_JOIN, () => this.onAssignment());
        return consumer;
      },
      async (consumer) => {
        await consumer.connect();
        await consumer.subscribe({ topic: input, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          partitionsConsumedConcurrently: 4,
          eachBatchAutoResolve: false,
          eachBatch: (p) => this.onBatch(p),
        });
      },
      log,
      () => this.onAssignment(),
    );
    await this.consumer.run();
    if (this.options.processor.idle)
      this.idleTimer = setInterval(() => void this.closeIdle(), this.options.idleIntervalMs ?? 250);
  }

  /** Stops consuming; what is not committed is not (the next owner replays it). */
  async stop(): Promise<void> {
    clearInterval(this.idleTimer);
    await this.consumer?.stop();
    const held = [...this.partitions.values()];
    this.partitions.clear();
    await Promise.all(held.map((p) => p.lock.then(() => this.close(p))));
    await this.admin?.disconnect();
  }

  /**
   * A (re)join of the group, or a new consumer: kafkajs resumes every partition it assigns from the
   * committed offset, so every state goes, a kept partition's too (it holds input past that offset:
   * replayed into it, it would count twice; its producer's committed offset is stale). A revoked
   * partition is replayed by its new owner.
   */
  private onAssignment(): void {
    for (const [partition, p] of this.partitions) {
      this.partitions.delete(partition);
      void p.lock.then(() => this.close(p));
    }
    this.rewinds.clear();
  }

  private async close(p: Partition<S>): Promise<void> {
    this.options.processor.close?.(p.state);
    await p.producer.disconnect().catch(() => {});
  }

  /**
   * The partition's state and transactional producer. A new producer first fences the previous
   * owner and waits out (by its initialisation) any transaction of it still completing, then the
   * committed offset is read, which is only final after that: input below it was committed already
   * (the consumer may have fetched its position before the previous owner's commit landed).
   */
  private async partition(partition: number): Promise<Partition<S>> {
    const known = this.partitions.get(partition);
    if (known) return known;
    const { kafka, groupId, input, processor } = this.options;
    const producer = reliableProducer(kafka, `${groupId}.${input}.${partition}`);
    await producer.connect();
    try {
      // kafkajs's connect() takes a producer id without the transactional id: the fencing, and the wait
      // for the previous owner's transaction, come with the first transaction, begun here and ended
      // empty (no request). Without it, a publisher taking over a partition read the offset before its
      // previous owner's last commit and delivered that batch again (test/faults/group-scaling.test.ts).
      await (await producer.transaction()).abort();
      const mine = await this.committedOffset(partition);
      const committed = Number(mine?.offset ?? -1);
      const state = await processor.open(partition, { offset: committed, metadata: mine?.metadata ?? undefined });
      const p: Partition<S> = {
        position: { partition, lastProcessed: -1, lastInputAt: Date.now() },
        state,
        producer,
        firstRead: -1,
        committed,
        lock: Promise.resolve(),
      };
      this.partitions.set(partition, p);
      return p;
    } catch (err) {
      await producer.disconnect().catch(() => {});
      throw err;
    }
  }

  /**
   * The partition's committed offset once no transaction's offsets for it are pending (KIP-447's
   * require_stable, stable-offsets.ts): the group coordinator applies a transaction's offsets when
   * its commit marker reaches it, after the transaction coordinator has let a new producer in. A
   * transaction still open (its producer gone) keeps it pending until it times out or is fenced.
   */
  private async committedOffset(partition: number): Promise<{ offset: string; metadata: string | null } | undefined> {
    const { groupId, input } = this.options;
    const read = stableOffsetsOf(this.admin!);
    for (;;) {
      const [mine] = await read({ groupId, topic: input, partitions: [partition] });
      if (!mine?.unstable) return mine;
      await new Promise((r) => setTimeout(r, STABLE_OFFSET_RETRY_MS));
    }
  }

  private withLock<T>(p: Partition<S>, fn: () => Promise<T>): Promise<T> {
    const next = p.lock.then(fn, fn);
    p.lock = next.catch(() => {});
    return next;
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    const { processor } = this.options;
    await processor.beforeBatch?.();
    const p = await this.partition(batch.partition);
    await this.withLock(p, async () => {
      if (!this.resumesInput(p, batch)) return;
      const deadLetters: Message[] = [];
      let read = 0;
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        read++;
        const offset = Number(message.offset);
        // Below the committed offset all is committed already (the consumer may have fetched its position before a commit landed).
        if (offset < p.committed) {
          resolveOffset(message.offset);
          continue;
        }
        if (p.firstRead < 0) p.firstRead = offset;
        try {
          processor.read(p.state, message, offset);
        } catch (err) {
          processor.deadLettered(batch.partition, message.offset, err as Error);
          deadLetters.push(
            deadLetter(
              {
                topic: batch.topic,
                partition: batch.partition,
                offset: message.offset,
                key: message.key,
                value: message.value,
              },
              err,
            ),
          );
        }
        p.position.lastProcessed = offset;
        resolveOffset(message.offset);
      }
      // The transaction markers (and aborted messages) after the batch's last message are input
      // too: committed past, else the group lags by one per partition for ever (the
      // pipeline-health endpoint read 4 with nothing left) and the partition never looks idle.
      const end = Number(batch.lastOffset());
      if (read === batch.messages.length && p.position.lastProcessed >= 0 && end > p.position.lastProcessed) {
        p.position.lastProcessed = end;
        resolveOffset(batch.lastOffset());
      }
      p.position.lastInputAt = Date.now();
      await this.commitOrRewind(p, async () => {
        const out = await processor.complete(p.state, {
          position: p.position,
          highWatermark: Number(batch.highWatermark),
          heartbeat,
        });
        return { ...out, deadLetters: [...deadLetters, ...(out.deadLetters ?? [])] };
      });
      await heartbeat();
    });
  }

  /**
   * Commits what is due; when the transaction fails, what it carried exists nowhere else, so the
   * partition's state is dropped and its input replayed from the last committed offset (from the
   * first offset read when none is committed).
   */
  private async commitOrRewind(p: Partition<S>, due: () => Promise<StageOutput>): Promise<void> {
    const { partition } = p.position;
    try {
      await this.commit(p, await due());
    } catch (err) {
      const rewindTo = p.committed >= 0 ? p.committed : p.firstRead;
      this.options.log[retriedLevel(err)](
        { err, partition, rewindTo },
        'commit failed; replaying the partition from its committed offset',
      );
      // A state dropped meanwhile (revoked, or a new assignment) is replayed from the committed offsets anyway.
      if (this.partitions.get(partition) === p) {
        this.partitions.delete(partition);
        this.rewinds.set(partition, { offset: rewindTo, sought: false });
        this.seek(partition, rewindTo);
      }
      await this.close(p);
    }
  }

  /**
   * Whether a batch may go into a partition's state. Not when the state was dropped while the batch
   * waited for it (the batch comes again, to the next state); nor when the partition was sent back
   * after a failed commit and the batch starts further on: the seek did not happen (the broker away,
   * the consumer restarting, a batch fetched before it), and the input in between, whose output
   * went with the dropped state, would be skipped. Then it is sent back again, and the batch dropped.
   * The same for a new state's first batch, against its committed offset.
   */
  private resumesInput(p: Partition<S>, batch: Batch): boolean {
    if (this.partitions.get(batch.partition) !== p) return false;
    const first = Number(batch.firstOffset());
    // A new state's first batch must start at its committed offset too: one fetched before a rejoin
    // (or before the seek of a rewind that a rejoin then forgot) may start further on, and the input
    // in between, held by the dropped state, would be skipped. Sent back once (then it may be a gap).
    if (!this.rewinds.has(batch.partition) && p.position.lastProcessed < 0 && p.committed >= 0 && first > p.committed) {
      this.options.log.warn(
        { partition: batch.partition, offset: first, committed: p.committed },
        'first batch of a partition state past its committed offset; seeking back',
      );
      this.rewinds.set(batch.partition, { offset: p.committed, sought: true });
      this.seek(batch.partition, p.committed);
      return false;
    }
    const rewind = this.rewinds.get(batch.partition);
    if (!rewind) return true;
    // At or before the rewind offset (input below the committed offset is skipped); or sent back
    // once already, and the offset is no message's (a gap in the partition).
    if (p.position.lastProcessed >= 0 || first <= Math.max(rewind.offset, p.committed) || rewind.sought) {
      this.rewinds.delete(batch.partition);
      return true;
    }
    this.options.log.warn(
      { partition: batch.partition, offset: first, rewindTo: rewind.offset },
      'batch past the offset a failed commit rewound to; seeking back again',
    );
    rewind.sought = true;
    this.seek(batch.partition, rewind.offset);
    return false;
  }

  /** Best effort: a consumer not running now (restarting, replaced) resumes from the committed offsets. */
  private seek(partition: number, offset: number): void {
    try {
      this.consumer?.consumer?.seek({ topic: this.options.input, partition, offset: String(offset) });
    } catch (err) {
      this.options.log.warn(
        { partition, offset, err: (err as Error).message },
        'seek failed; the consumer resumes from the committed offsets',
      );
    }
  }

  /** One transaction: the output, the dead letters, and the input offset that they complete. */
  private async commit(p: Partition<S>, out: StageOutput): Promise<void> {
    const { partition, lastProcessed } = p.position;
    if (lastProcessed < 0) return;
    const offset = out.offset ?? lastProcessed + 1;
    const messages = [...(out.messages ?? [])].filter(([, list]) => list.length);
    const deadLetters = out.deadLetters ?? [];
    if (!messages.length && !deadLetters.length && offset === p.committed) return;
    const { groupId, input, dlq } = this.options;
    const tx = await p.producer.transaction();
    try {
      for (const [topic, list] of messages) await sendBounded(tx, topic, list);
      await sendBounded(tx, dlq, deadLetters);
      const committed = { partition, offset: String(offset), metadata: out.metadata ?? null };
      await tx.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic: input, partitions: [committed as { partition: number; offset: string }] }],
      });
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => {});
      throw err;
    }
    p.committed = offset;
    out.committed?.();
  }

  /**
   * Commits what idle partitions have to (processor.idle), for a partition only when its input is
   * all read: more may be waiting in Kafka (the consumer lags).
   */
  private async closeIdle(): Promise<void> {
    const idle = this.options.processor.idle!;
    const now = Date.now();
    const due = [...this.partitions.values()].filter((p) => idle(p.state, p.position, now));
    if (!due.length || this.closingIdle) return;
    this.closingIdle = true;
    try {
      const ends = await this.admin!.fetchTopicOffsets(this.options.input);
      for (const p of due) {
        const high = Number(ends.find((e) => e.partition === p.position.partition)?.high ?? 0);
        if (p.position.lastProcessed + 1 < high) continue;
        const inputAt = p.position.lastInputAt;
        await this.withLock(p, async () => {
          // Input that arrived meanwhile is handled by the batch handler, which commits what is due itself.
          if (this.partitions.get(p.position.partition) !== p || p.position.lastInputAt !== inputAt) return;
          const close = idle(p.state, p.position, now);
          if (close) await this.commitOrRewind(p, async () => close());
        });
      }
    } catch (err) {
      this.options.log.error({ err }, 'closing idle partitions failed; retrying');
    } finally {
      this.closingIdle = false;
    }
  }
}
