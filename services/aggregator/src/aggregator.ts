/**
 * The aggregator: packet events in, flow records out, exactly once. Each input partition has its
 * own windows and its own transactional producer; records and the input offset are committed in
 * one Kafka transaction, so a crash or a rebalance replays without duplicating.
 */
import type { Admin, Batch, EachBatchPayload, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { FlowLogRule, decodePacketBatch, newPacketEvent, topicNames, type FlowRecord, type TopicNames } from '@flowlogs/contracts';
import { FlowWindows, RuleSet } from '@flowlogs/flow';
import { FETCH_MAX_WAIT_MS, SupervisedConsumer, deadLetter, ensureTopics, pipelineTopics, reliableProducer, sendBounded, type Kafka } from '@flowlogs/kafka';
import { HealthServer, type Logger } from '@flowlogs/runtime';
import type { AggregatorConfig } from './config.js';
import { chunk, commitOffset, decodeCommitMetadata, encodeCommitMetadata } from './commit-point.js';
import { aggregatorMetrics, type AggregatorMetrics } from './metrics.js';

export interface AggregatorDeps {
  config: AggregatorConfig;
  log: Logger;
  kafka: Kafka;
  registry: Registry;
}

interface PartitionState {
  partition: number;
  windows: FlowWindows;
  producer: Producer;
  lastProcessed: number;
  /** The first input offset this state read (-1 before any): where a replay starts when nothing is committed. */
  firstRead: number;
  /** Input up to this offset was processed before a restart: its emitted windows are skipped silently. */
  replayedThrough: number;
  lastInputAt: number;
  committed: number;
  /** Serialises the batch handler and the idle closer of one partition. */
  lock: Promise<unknown>;
  /** The event time of each ENI's last batch, for liveness between batches. */
  lastReport: Map<string, number>;
  /** What each ENI's source last said of itself: live traffic, or a file replay (ended or not). */
  sources: Map<string, { live: boolean; ended: boolean }>;
}

/** The agent sends a heartbeat every few seconds: a longer silence means the ENI was not capturing. */
const LIVENESS_GAP_S = 30;

export class Aggregator {
  private readonly topics: TopicNames;
  private readonly groupId: string;
  private readonly metrics: AggregatorMetrics;
  private readonly rules = new RuleSet();
  /** Next offset to read on each rules partition, as far as the rules consumer got. */
  private readonly rulesNext = new Map<number, number>();
  private readonly partitions = new Map<number, PartitionState>();
  /** Partitions sent back after a failed commit, and where to: their next state must start there (see resumesInput). */
  private readonly rewinds = new Map<number, { offset: number; sought: boolean }>();
  private admin: Admin | undefined;
  private rulesConsumer: SupervisedConsumer | undefined;
  private consumer: SupervisedConsumer | undefined;
  private health: HealthServer | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Partitions of the records topic: a commit's messages go round them, so every publisher gets a share. */
  private recordsPartitions = 1;
  private running = false;
  private closingIdle = false;

  constructor(private readonly deps: AggregatorDeps) {
    this.topics = topicNames(deps.config.FLOWLOGS_TOPIC_PREFIX);
    this.groupId = `${deps.config.FLOWLOGS_TOPIC_PREFIX}.aggregator`;
    this.metrics = aggregatorMetrics(deps.registry);
  }

  async start(): Promise<void> {
    const { kafka, config, log } = this.deps;
    this.health = new HealthServer(this.deps.registry, { live: () => true, ready: () => this.running }, config.METRICS_HOST, config.METRICS_PORT);
    await this.health.start();
    this.admin = kafka.admin();
    await this.admin.connect();
    await ensureTopics(this.admin, pipelineTopics(this.topics, this.deps.config.KAFKA_PARTITIONS));
    const metadata = await this.admin.fetchTopicMetadata({ topics: [this.topics.records] });
    this.recordsPartitions = Math.max(1, metadata.topics[0]?.partitions.length ?? 1);

    // Rules: the whole compacted topic from the beginning, every start; a group of its own, never committed.
    this.rulesConsumer = new SupervisedConsumer(() => kafka.consumer({ groupId: `${this.groupId}.rules.${process.pid}.${Date.now()}`, maxWaitTimeInMs: FETCH_MAX_WAIT_MS }), async (consumer) => {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topics.rules, fromBeginning: true });
      await consumer.run({ autoCommit: false, eachMessage: async ({ partition, message }) => this.applyRule(partition, message) });
    }, log, () => this.rulesNext.clear());
    await this.rulesConsumer.run();

    // A replaced consumer resumes from the committed offsets: the windows built past them go too.
    this.consumer = new SupervisedConsumer(() => {
      const consumer = kafka.consumer({ groupId: this.groupId, readUncommitted: false, maxBytesPerPartition: 4 << 20, maxWaitTimeInMs: FETCH_MAX_WAIT_MS });
      consumer.on(consumer.events.GROUP_JOIN, () => this.onAssignment());
      return consumer;
    }, async (consumer) => {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topics.packets, fromBeginning: true });
      await consumer.run({ autoCommit: false, partitionsConsumedConcurrently: 4, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
    }, log, () => this.onAssignment());
    await this.consumer.run();
    this.idleTimer = setInterval(() => void this.closeIdlePartitions(), 250);
    this.running = true;
    log.info({ group: this.groupId, topic: this.topics.packets }, 'aggregator started');
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.idleTimer);
    // Open windows are not emitted: their input is not committed, and the next owner replays it.
    await this.consumer?.stop();
    await this.rulesConsumer?.stop();
    await Promise.all([...this.partitions.values()].map((s) => s.lock.then(() => s.producer.disconnect())));
    this.partitions.clear();
    await this.admin?.disconnect();
    await this.health?.stop();
  }

  private applyRule(partition: number, message: KafkaMessage): void {
    this.rulesNext.set(partition, Number(message.offset) + 1);
    const id = message.key?.toString();
    if (!id) return;
    if (!message.value) {
      this.rules.apply(id, null);
    } else {
      const parsed = FlowLogRule.safeParse(JSON.parse(message.value.toString()));
      if (!parsed.success) {
        this.deps.log.error({ id, issues: parsed.error.issues }, 'invalid rule on the rules topic, ignored');
        return;
      }
      this.rules.apply(id, parsed.data);
    }
    this.metrics.rules.set(this.rules.size);
  }

  /**
   * Waits until the rules consumer has read every rule written so far: a rule created (and acked)
   * before some packets were produced applies to them.
   */
  private async rulesCaughtUp(): Promise<void> {
    const ends = await this.admin!.fetchTopicOffsets(this.topics.rules);
    const deadline = Date.now() + 10_000;
    while (ends.some((e) => (this.rulesNext.get(e.partition) ?? 0) < Number(e.high))) {
      if (Date.now() > deadline) {
        this.deps.log.warn('rules consumer is behind; processing packets with the rules known so far');
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * A (re)join of the group, or a new consumer: kafkajs resumes every partition it assigns from the
   * committed offset, so every state goes, a kept partition's too (its windows hold input past that
   * offset: replayed into them, it would count twice). A revoked partition is replayed by its new owner.
   */
  private onAssignment(): void {
    for (const [partition, state] of this.partitions) {
      this.partitions.delete(partition);
      void state.lock.then(() => state.producer.disconnect());
    }
    this.rewinds.clear();
  }

  private async partitionState(partition: number): Promise<PartitionState> {
    let state = this.partitions.get(partition);
    if (state) return state;
    const producer = reliableProducer(this.deps.kafka, `${this.groupId}.${this.topics.packets}.${partition}`);
    await producer.connect();
    const windows = new FlowWindows({ allowedLateness: this.deps.config.FLOWLOGS_ALLOWED_LATENESS_S, maxFlows: this.deps.config.FLOWLOGS_MAX_FLOWS_PER_PARTITION });
    const [committed] = await this.admin!.fetchOffsets({ groupId: this.groupId, topics: [this.topics.packets] });
    const mine = committed?.partitions.find((p) => p.partition === partition);
    const meta = decodeCommitMetadata(mine?.metadata);
    if (meta) windows.restore(meta.emittedThrough);
    state = { partition, windows, producer, lastProcessed: -1, firstRead: -1, replayedThrough: meta?.processedThrough ?? -1, lastInputAt: Date.now(), committed: Number(mine?.offset ?? -1), lock: Promise.resolve(), lastReport: new Map(), sources: new Map() };
    this.partitions.set(partition, state);
    return state;
  }

  private withLock<T>(state: PartitionState, fn: () => Promise<T>): Promise<T> {
    const next = state.lock.then(fn, fn);
    state.lock = next.catch(() => {});
    return next;
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    await this.rulesCaughtUp();
    const state = await this.partitionState(batch.partition);
    await this.withLock(state, async () => {
      if (!this.resumesInput(state, batch)) return;
      const deadLetters: Message[] = [];
      const event = newPacketEvent();
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        const offset = Number(message.offset);
        // Below the committed offset all is emitted already (the consumer may have fetched its position before a commit landed).
        if (offset < state.committed) {
          resolveOffset(message.offset);
          continue;
        }
        if (state.firstRead < 0) state.firstRead = offset;
        try {
          this.addBatch(state, message, offset, event);
        } catch (err) {
          this.metrics.deadLetters.inc();
          this.deps.log.warn({ partition: batch.partition, offset, err: (err as Error).message }, 'undecodable packet batch sent to the DLQ');
          deadLetters.push(deadLetter({ topic: batch.topic, partition: batch.partition, offset: message.offset, key: message.key, value: message.value }, err));
        }
        state.lastProcessed = offset;
        resolveOffset(message.offset);
      }
      state.lastInputAt = Date.now();
      // Every source on the partition ended and all its input read: its windows close now, not at the idle closer's next round.
      const drained = this.sourcesEnded(state) && state.lastProcessed + 1 >= Number(batch.highWatermark);
      await this.commitOrRewind(state, () => state.windows.closeDue(drained ? Math.max(state.windows.watermark, Date.now() / 1000) : undefined), deadLetters);
      this.metrics.activeFlows.set(this.totalFlows());
      await heartbeat();
    });
  }

  private addBatch(state: PartitionState, message: KafkaMessage, offset: number, event: ReturnType<typeof newPacketEvent>): void {
    if (!message.value) throw new Error('empty packet batch');
    const view = decodePacketBatch(message.value);
    const rules = this.rules.covering(view.header);
    this.metrics.packets.inc(view.count);
    if (!rules.length) return;
    const replayed = offset <= state.replayedThrough;
    const { stats, eventTime } = view.header;
    state.sources.set(view.header.eniId, { live: view.header.live, ended: view.header.ended });
    for (let i = 0; i < view.count; i++) {
      view.read(i, event);
      for (const rule of rules) {
        if (replayed && state.windows.isEmitted(rule, event.ts)) continue;
        const result = state.windows.add(rule, view.header, event, offset);
        if (result === 'late' || result === 'capacity') this.metrics.skippedPackets.inc({ reason: result });
      }
    }
    for (const [second, dropped] of stats.dropsBySecond) {
      for (const rule of rules) {
        if (!(replayed && state.windows.isEmitted(rule, second))) state.windows.addSkipped(rule, view.header, second, dropped, offset);
      }
    }
    // Reports from an ENI less than LIVENESS_GAP_S apart mean it was capturing all along: NODATA where it had no traffic.
    const previous = state.lastReport.get(view.header.eniId);
    const liveFrom = previous !== undefined && eventTime - previous <= LIVENESS_GAP_S ? previous : eventTime;
    for (const rule of rules) state.windows.markLive(rule, view.header, liveFrom, eventTime, offset);
    state.lastReport.set(view.header.eniId, Math.max(eventTime, previous ?? -Infinity));
    state.windows.advance(eventTime);
  }

  /**
   * Commits what is due; when the transaction fails, the closed windows exist nowhere else, so the
   * partition's state is dropped and its input replayed from the last committed offset (from the
   * first offset read when none is committed).
   */
  private async commitOrRewind(state: PartitionState, due: () => FlowRecord[], deadLetters: Message[]): Promise<void> {
    try {
      await this.commit(state, due(), deadLetters);
    } catch (err) {
      const rewindTo = state.committed >= 0 ? state.committed : state.firstRead;
      this.deps.log.warn({ err, partition: state.partition, rewindTo }, 'commit failed; replaying the partition from its committed offset');
      // A state dropped meanwhile (revoked, or a new assignment) is replayed from the committed offsets anyway.
      if (this.partitions.get(state.partition) === state) {
        this.partitions.delete(state.partition);
        this.rewinds.set(state.partition, { offset: rewindTo, sought: false });
        this.seek(state.partition, rewindTo);
      }
      await state.producer.disconnect().catch(() => {});
    }
  }

  /**
   * Whether a batch may go into a partition's state. Not when the state was dropped while the batch
   * waited for it (the batch comes again, to the next state); nor when the partition was sent back
   * after a failed commit and the batch starts further on: the seek did not happen (the broker away,
   * the consumer restarting, a batch fetched before it), and the input in between, whose records
   * went with the dropped state, would be skipped. Then it is sent back again, and the batch dropped.
   */
  private resumesInput(state: PartitionState, batch: Batch): boolean {
    if (this.partitions.get(batch.partition) !== state) return false;
    const rewind = this.rewinds.get(batch.partition);
    if (!rewind) return true;
    const first = Number(batch.firstOffset());
    // At or before the rewind offset (input below the committed offset is skipped); or sent back
    // once already, and the offset is no message's (a gap in the partition).
    if (state.lastProcessed >= 0 || first <= Math.max(rewind.offset, state.committed) || rewind.sought) {
      this.rewinds.delete(batch.partition);
      return true;
    }
    this.deps.log.warn({ partition: batch.partition, offset: first, rewindTo: rewind.offset }, 'batch past the offset a failed commit rewound to; seeking back again');
    rewind.sought = true;
    this.seek(batch.partition, rewind.offset);
    return false;
  }

  /** Best effort: a consumer not running now (restarting, replaced) resumes from the committed offsets. */
  private seek(partition: number, offset: number): void {
    try {
      this.consumer?.consumer?.seek({ topic: this.topics.packets, partition, offset: String(offset) });
    } catch (err) {
      this.deps.log.warn({ partition, offset, err: (err as Error).message }, 'seek failed; the consumer resumes from the committed offsets');
    }
  }

  /** One transaction: the records, the dead letters, and the input offset that they complete. */
  private async commit(state: PartitionState, records: FlowRecord[], deadLetters: Message[]): Promise<void> {
    if (state.lastProcessed < 0) return;
    const offset = commitOffset(state.windows.minOpenPosition(), state.lastProcessed);
    if (!records.length && !deadLetters.length && offset === state.committed) return;
    const tx = await state.producer.transaction();
    try {
      const byLogTopic = new Map<string, FlowRecord[]>();
      for (const r of records) {
        const list = byLogTopic.get(r.logTopicId);
        if (list) list.push(r);
        else byLogTopic.set(r.logTopicId, [r]);
      }
      // Chunks go round the partitions (a key's hash would leave some publishers most of the work), keyed by log topic.
      const messages = [...byLogTopic].flatMap(([logTopicId, rs]) =>
        chunk(rs, this.deps.config.FLOWLOGS_RECORDS_PER_MESSAGE).map((part, i) => ({ key: `${logTopicId}/${i}`, value: JSON.stringify({ records: part }) })))
        .map((message, i) => ({ ...message, partition: (state.partition + i) % this.recordsPartitions }));
      await sendBounded(tx, this.topics.records, messages);
      await sendBounded(tx, this.topics.dlq, deadLetters);
      const metadata = encodeCommitMetadata({ emittedThrough: state.windows.emittedThrough, processedThrough: state.lastProcessed });
      await tx.sendOffsets({ consumerGroupId: this.groupId, topics: [{ topic: this.topics.packets, partitions: [{ partition: state.partition, offset: String(offset), metadata } as { partition: number; offset: string }] }] });
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => {});
      throw err;
    }
    state.committed = offset;
    this.metrics.transactions.inc();
    for (const r of records) this.metrics.records.inc({ log_status: r.logStatus });
  }

  /**
   * Closes what a partition's input will not add to any more, when it has read all there is:
   * at once when every source on it is a file read to its end; after FLOWLOGS_IDLE_CLOSE_MS without
   * input when its sources are live (their windows end by the wall clock); a replay still in progress
   * is waited for (a slow agent is not the end of its capture) until FLOWLOGS_STALLED_REPLAY_MS.
   */
  private async closeIdlePartitions(): Promise<void> {
    const now = Date.now();
    const { FLOWLOGS_IDLE_CLOSE_MS, FLOWLOGS_STALLED_REPLAY_MS } = this.deps.config;
    const due = [...this.partitions.values()].filter((state) => {
      if (!state.windows.openWindows) return false;
      const sources = [...state.sources.values()];
      const idle = now - state.lastInputAt;
      if (this.sourcesEnded(state)) return true;
      if (sources.some((s) => !s.live && !s.ended)) return idle >= FLOWLOGS_STALLED_REPLAY_MS;
      return idle >= FLOWLOGS_IDLE_CLOSE_MS;
    });
    if (!due.length || this.closingIdle) return;
    this.closingIdle = true;
    try {
      // Only a partition whose input is all read: more may be waiting in Kafka (the consumer lags).
      const ends = await this.admin!.fetchTopicOffsets(this.topics.packets);
      for (const state of due) {
        const high = Number(ends.find((e) => e.partition === state.partition)?.high ?? 0);
        if (state.lastProcessed + 1 < high) continue;
        const inputAt = state.lastInputAt;
        await this.withLock(state, async () => {
          // Input that arrived meanwhile is handled by the batch handler, which closes what is due itself.
          if (this.partitions.get(state.partition) !== state || state.lastInputAt !== inputAt || !state.windows.openWindows) return;
          await this.commitOrRewind(state, () => state.windows.closeDue(Math.max(state.windows.watermark, now / 1000)), []);
          this.metrics.activeFlows.set(this.totalFlows());
        });
      }
    } catch (err) {
      this.deps.log.error({ err }, 'closing idle partitions failed; retrying');
    } finally {
      this.closingIdle = false;
    }
  }

  /** Every source on the partition is a file read to its end. */
  private sourcesEnded(state: PartitionState): boolean {
    if (!state.sources.size) return false;
    for (const source of state.sources.values()) if (!source.ended) return false;
    return true;
  }

  private totalFlows(): number {
    let n = 0;
    for (const s of this.partitions.values()) n += s.windows.activeFlows;
    return n;
  }
}
