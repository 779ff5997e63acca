/**
 * The publisher: flow records in, rows in Postgres and messages on each log topic's Kafka topic
 * out. Rows are written first and idempotently; the delivery and the input offset are then
 * committed in one Kafka transaction (a TransactionalStage of libs/kafka), so a crash at any point
 * stores once and delivers once.
 */
import type { Admin, KafkaMessage, Message } from 'kafkajs';
import type { Registry } from 'prom-client';
import {
  FlowRecordBatch,
  LogTopicSettings,
  flowKeyOf,
  formatRecord,
  topicNames,
  type FlowRecord,
  type TopicNames,
} from '@flowlogs/contracts';
import { createPool, daysAhead, ensureDatabase, ensureDayPartitions, migrate, type Pool } from '@flowlogs/db';
import {
  CompactedTopicReader,
  TransactionalStage,
  deadLetter,
  ensureTopics,
  pipelineTopics,
  type Kafka,
  type StageOutput,
} from '@flowlogs/kafka';
import { HealthServer, type Logger } from '@flowlogs/runtime';
import type { PublisherConfig } from './config.js';
import { publisherMetrics, type PublisherMetrics } from './metrics.js';
import { applyRetention } from './retention-store.js';
import { foldRollup, insertRecords, isConcurrencyConflict, isConnectionError } from './store.js';

export interface PublisherDeps {
  config: PublisherConfig;
  log: Logger;
  kafka: Kafka;
  registry: Registry;
  /** A pool to use instead of one made from DATABASE_URL (tests); the caller ends it. */
  pool?: Pool;
}

/** A batch of one input partition, as it is read. */
interface PartitionBatch {
  partition: number;
  records: FlowRecord[];
  /** The batch's last message read: a batch that cannot be stored is dead-lettered under its offset. */
  last: KafkaMessage | undefined;
}

/** How long a batch's delivery waits at most for the other partitions' stores (see complete). */
const STORE_WAIT_MS = 1_000;

export class Publisher {
  private readonly topics: TopicNames;
  private readonly groupId: string;
  private readonly metrics: PublisherMetrics;
  private readonly knownPartitions = new Set<string>();
  /** Each log topic's settings, as the log-topics topic says (the control plane writes it at every change). */
  private readonly logTopics = new Map<string, LogTopicSettings>();
  private settingsReader: CompactedTopicReader | undefined;
  private admin: Admin | undefined;
  /** The Postgres stores in progress, one per partition at most. */
  private readonly storing = new Set<Promise<unknown>>();
  private pool: Pool | undefined;
  private stage: TransactionalStage<PartitionBatch> | undefined;
  private health: HealthServer | undefined;
  private running = false;
  private retentionTimer: NodeJS.Timeout | undefined;
  private foldTimer: NodeJS.Timeout | undefined;
  private folding: Promise<unknown> = Promise.resolve();
  /** A fold waits to start behind the one running. */
  private foldsQueued = false;

  constructor(private readonly deps: PublisherDeps) {
    this.topics = topicNames(deps.config.FLOWLOGS_TOPIC_PREFIX);
    this.groupId = `${deps.config.FLOWLOGS_TOPIC_PREFIX}.publisher`;
    this.metrics = publisherMetrics(deps.registry);
  }

  async start(): Promise<void> {
    const { config, kafka, log } = this.deps;
    this.health = await HealthServer.listen(this.deps.registry, config, () => this.running);
    if (this.deps.pool) {
      this.pool = this.deps.pool;
    } else {
      await ensureDatabase(config.DATABASE_URL);
      this.pool = createPool(config.DATABASE_URL);
      await migrate(this.pool);
    }
    await this.preparePartitions();
    this.admin = kafka.admin();
    await this.admin.connect();
    await ensureTopics(
      this.admin,
      pipelineTopics(this.topics, this.deps.config, ['records', 'logTopicSettings', 'dlq']),
    );
    // Log topics' settings: the whole compacted topic from the beginning, every start, then followed.
    this.settingsReader = new CompactedTopicReader(
      kafka,
      log,
      this.topics.logTopicSettings,
      `${this.groupId}.log-topics`,
      (id, value) => this.applySettings(id, value),
    );
    await this.settingsReader.start();
    this.stage = new TransactionalStage<PartitionBatch>({
      kafka,
      log,
      groupId: this.groupId,
      input: this.topics.records,
      dlq: this.topics.dlq,
      // Large fetches: one Postgres insert and one Kafka transaction serve thousands of records.
      consumer: { maxBytesPerPartition: 8 << 20, maxBytes: 32 << 20 },
      processor: {
        open: (partition) => ({ partition, records: [], last: undefined }),
        // A log topic made (and acknowledged) before its first records were produced is known to them.
        beforeBatch: () => this.settingsReader!.waitCaughtUp(this.admin!),
        read: (batch, message) => {
          batch.last = message;
          batch.records.push(...FlowRecordBatch.parse(JSON.parse(message.value?.toString() ?? '')).records);
        },
        deadLettered: (partition, offset, err) => {
          this.metrics.deadLetters.inc();
          log.warn({ partition, offset, err: err.message }, 'undecodable record batch sent to the DLQ');
        },
        complete: (batch, { heartbeat }) => this.complete(batch, heartbeat),
      },
    });
    await this.stage.start();
    this.retentionTimer = setInterval(() => {
      this.preparePartitions().catch((err) =>
        log.error({ err }, 'making the next day partitions failed; retrying at the next interval'),
      );
      this.applyRetention().catch((err) => log.error({ err }, 'retention failed; retrying at the next interval'));
    }, config.FLOWLOGS_RETENTION_INTERVAL_MS);
    this.foldTimer = setInterval(() => void this.foldPending(), config.FLOWLOGS_ROLLUP_FOLD_MS);
    this.running = true;
    log.info({ group: this.groupId, topic: this.topics.records }, 'publisher started');
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.retentionTimer);
    clearInterval(this.foldTimer);
    await this.stage?.stop();
    await this.settingsReader?.stop();
    await this.admin?.disconnect();
    await this.foldPending();
    if (!this.deps.pool) await this.pool?.end();
    await this.health?.stop();
  }

  private applySettings(id: string, value: Buffer | null): void {
    if (!value) {
      this.logTopics.delete(id);
      return;
    }
    const parsed = LogTopicSettings.safeParse(JSON.parse(value.toString()));
    if (!parsed.success) {
      this.deps.log.error({ id, issues: parsed.error.issues }, 'invalid settings on the log-topics topic, ignored');
      return;
    }
    this.logTopics.set(id, parsed.data);
  }

  /**
   * Stores a batch's records, then answers their delivery. Making a batch's Kafka messages blocks
   * the event loop for a while: the stores of the other partitions that run now finish first, so
   * their records are queryable sooner. Stores that start later are not waited for, nor one for
   * longer than STORE_WAIT_MS (it may be waiting out a Postgres outage: the other partitions go on).
   */
  private async complete(batch: PartitionBatch, heartbeat: () => Promise<void>): Promise<StageOutput> {
    const { records, last } = batch;
    batch.records = [];
    batch.last = undefined;
    if (!records.length) return {};
    const storing = this.store(records, heartbeat);
    this.storing.add(storing);
    const stored = await storing.finally(() => this.storing.delete(storing));
    if (this.storing.size) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.storing]),
        new Promise((r) => (timer = setTimeout(r, STORE_WAIT_MS))),
      ]);
      clearTimeout(timer);
    }
    const deadLetters: Message[] = [];
    if (!stored.ok && last) {
      this.metrics.deadLetters.inc();
      const source = {
        topic: this.topics.records,
        partition: batch.partition,
        offset: last.offset,
        key: last.key,
        value: Buffer.from(JSON.stringify({ records })),
      };
      deadLetters.push(deadLetter(source, stored.error));
    }
    const delivered = stored.ok ? records : [];
    return {
      messages: this.deliveries(delivered),
      deadLetters,
      committed: () => this.metrics.records.inc(delivered.length),
    };
  }

  /** Stores the records; waits out an unreachable Postgres and retries deadlocks; gives up after bounded attempts on any other error. */
  private async store(
    records: FlowRecord[],
    heartbeat: () => Promise<void>,
  ): Promise<{ ok: true } | { ok: false; error: unknown }> {
    let failures = 0;
    for (let attempt = 1; ; attempt++) {
      const end = this.metrics.storeSeconds.startTimer();
      try {
        await ensureDayPartitions(this.pool!, new Set(records.map((r) => r.windowStart)), this.knownPartitions);
        const inserted = await insertRecords(this.pool!, records);
        this.metrics.duplicates.inc(records.length - inserted);
        end();
        return { ok: true };
      } catch (err) {
        end();
        this.metrics.storeRetries.inc();
        const transient = isConnectionError(err) || isConcurrencyConflict(err);
        if (!transient && ++failures >= this.deps.config.FLOWLOGS_STORE_ATTEMPTS) return { ok: false, error: err };
        if (!this.running) throw err;
        this.deps.log.warn({ attempt, err: (err as Error).message }, 'storing records failed; retrying');
        this.knownPartitions.clear();
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** Math.min(attempt, 6))));
        await heartbeat();
      }
    }
  }

  /**
   * Today's and tomorrow's day partitions, before their first records (again at every retention
   * round): making one locks flow_records, and searches would wait for it at midnight. Partitions
   * of other dates are still made on demand.
   */
  private async preparePartitions(): Promise<void> {
    await ensureDayPartitions(this.pool!, daysAhead(Date.now() / 1000, 1), this.knownPartitions);
  }

  /** Folds the rollup's pending rows (one fold at a time); a failure is counted and the next interval tries again. */
  foldPending(): Promise<unknown> {
    // A fold still running (a slow one, or waiting for Postgres) is not queued behind again and again.
    if (this.foldsQueued) return this.folding;
    this.foldsQueued = true;
    this.folding = this.folding.then(async () => {
      this.foldsQueued = false;
      if (!this.pool) return;
      try {
        const took = this.metrics.rollupFoldSeconds.startTimer();
        const fold = await foldRollup(this.pool, this.deps.config.FLOWLOGS_ROLLUP_SEAL_AFTER_S);
        took();
        this.metrics.rollupFolded.inc(fold.folded);
        this.metrics.rollupLate.inc(fold.late);
        this.metrics.rollupFoldRetries.inc(fold.retried);
      } catch (err) {
        this.metrics.rollupFoldFailures.inc();
        this.deps.log.warn(
          { err: (err as Error).message },
          'folding the pending rollup rows failed; retrying at the next interval',
        );
      }
    });
    return this.folding;
  }

  /**
   * Drops the day partitions past every log topic's retention and deletes older rows of shorter ones
   * (retention-store.ts); one publisher at a time, the others skip the round. The retentions are the
   * log-topics topic's, all of it read: none known (a control plane that has not published them yet)
   * skips the round rather than take every record for one of no log topic.
   */
  async applyRetention(now = Date.now() / 1000): Promise<{ dropped: string[]; deleted: number }> {
    if (!(await this.settingsReader!.caughtUp(this.admin!)) || !this.logTopics.size) {
      this.deps.log.warn(
        { known: this.logTopics.size },
        'log-topic settings not all read, or none; retention skipped this round',
      );
      return { dropped: [], deleted: 0 };
    }
    const topics = [...this.logTopics.values()].map((t) => ({ logTopicId: t.id, retentionDays: t.retentionDays }));
    const result = await applyRetention(this.pool!, topics, now);
    for (const name of result.dropped) this.knownPartitions.delete(name);
    if (result.dropped.length || result.deleted) this.deps.log.info(result, 'retention applied');
    this.metrics.retentionDrops.inc(result.dropped.length);
    return result;
  }

  /**
   * Messages per log topic's Kafka topic, each record keyed by its flow key, in the log topic's
   * format as the log-topics topic says now (a log topic it does not know: json, to its default topic).
   */
  private deliveries(records: FlowRecord[]): Map<string, Message[]> {
    const out = new Map<string, Message[]>();
    for (const r of records) {
      const target = this.logTopics.get(r.logTopicId) ?? {
        kafkaTopic: this.topics.logTopic(r.logTopicId),
        format: 'json' as const,
      };
      const key = flowKeyOf(r, '-');
      const msgs = out.get(target.kafkaTopic) ?? [];
      msgs.push({ key, value: formatRecord(r, target.format), headers: { 'flowlogs-record-id': r.recordId } });
      out.set(target.kafkaTopic, msgs);
    }
    return out;
  }
}
