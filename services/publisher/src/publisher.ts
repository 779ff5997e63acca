/**
 * The publisher: flow records in, rows in Postgres and messages on each log topic's Kafka topic
 * out. Rows are written first and idempotently; the delivery and the input offset are then
 * committed in one Kafka transaction, so a crash at any point stores once and delivers once.
 */
import type { Admin, EachBatchPayload, Message, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { FlowRecordBatch, formatRecord, topicNames, type FlowRecord, type RecordFormat, type TopicNames } from '@flowlogs/contracts';
import { ADVISORY_LOCKS, createPool, daysAhead, ensureDatabase, ensureDayPartitions, migrate, type Pool } from '@flowlogs/db';
import { FETCH_MAX_WAIT_MS, SupervisedConsumer, deadLetter, ensureTopics, pipelineTopics, reliableProducer, sendBounded, type Kafka } from '@flowlogs/kafka';
import { HealthServer, type Logger } from '@flowlogs/runtime';
import type { PublisherConfig } from './config.js';
import { publisherMetrics, type PublisherMetrics } from './metrics.js';
import { parseDayPartition, retentionPlan, type DayPartition } from './retention.js';
import { foldRollup, insertRecords, isConcurrencyConflict, isConnectionError } from './store.js';

export interface PublisherDeps {
  config: PublisherConfig;
  log: Logger;
  kafka: Kafka;
  registry: Registry;
  /** A pool to use instead of one made from DATABASE_URL (tests); the caller ends it. */
  pool?: Pool;
}

interface LogTopicTarget {
  kafkaTopic: string;
  format: RecordFormat;
  /** Date.now() after which the log topic is read again: a format changed through the API applies within TARGET_TTL_MS. */
  expiresAt: number;
}

const TARGET_TTL_MS = 5_000;

/** How long a batch's delivery waits at most for the other partitions' stores (see onBatch). */
const STORE_WAIT_MS = 1_000;

// Any fixed number: one publisher applies retention at a time.

export class Publisher {
  private readonly topics: TopicNames;
  private readonly groupId: string;
  private readonly metrics: PublisherMetrics;
  private readonly producers = new Map<number, Producer>();
  private readonly knownPartitions = new Set<string>();
  private readonly targets = new Map<string, LogTopicTarget>();
  /** The Postgres stores in progress, one per partition at most. */
  private readonly storing = new Set<Promise<unknown>>();
  private pool: Pool | undefined;
  private admin: Admin | undefined;
  private consumer: SupervisedConsumer | undefined;
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
    this.health = new HealthServer(this.deps.registry, { live: () => true, ready: () => this.running }, config.METRICS_HOST, config.METRICS_PORT);
    await this.health.start();
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
    await ensureTopics(this.admin, pipelineTopics(this.topics, this.deps.config.KAFKA_PARTITIONS));
    // Large fetches: one Postgres insert and one Kafka transaction serve thousands of records.
    this.consumer = new SupervisedConsumer(() => {
      const consumer = kafka.consumer({ groupId: this.groupId, readUncommitted: false, maxWaitTimeInMs: FETCH_MAX_WAIT_MS, maxBytesPerPartition: 8 << 20, maxBytes: 32 << 20 });
      consumer.on(consumer.events.GROUP_JOIN, () => this.onAssignment());
      return consumer;
    }, async (consumer) => {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topics.records, fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 4, eachBatch: (p) => this.onBatch(p) });
    }, log, () => this.onAssignment());
    await this.consumer.run();
    this.retentionTimer = setInterval(() => {
      this.preparePartitions().catch((err) => log.error({ err }, 'making the next day partitions failed; retrying at the next interval'));
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
    await this.consumer?.stop();
    await this.foldPending();
    await Promise.all([...this.producers.values()].map((p) => p.disconnect()));
    this.producers.clear();
    await this.admin?.disconnect();
    if (!this.deps.pool) await this.pool?.end();
    await this.health?.stop();
  }

  /**
   * A (re)join of the group, or a new consumer: kafkajs resumes every assigned partition from its
   * committed offset, so every producer goes, a kept partition's too: its next one reads the
   * committed offset afresh (after waiting out any transaction still completing), and input below
   * it is skipped, not delivered twice.
   */
  private onAssignment(): void {
    for (const [partition, producer] of this.producers) {
      this.producers.delete(partition);
      void producer.disconnect();
    }
  }

  /**
   * The partition's transactional producer. A new one first waits out (by its initialisation) any
   * transaction of the previous owner still completing, then reads the committed offset, which is
   * only final after that: input below it was delivered already (the consumer may have fetched
   * its position before the previous owner's commit landed).
   */
  private async producer(partition: number): Promise<{ producer: Producer; committed: number }> {
    const known = this.producers.get(partition);
    if (known) return { producer: known, committed: -1 };
    const producer = reliableProducer(this.deps.kafka, `${this.groupId}.${this.topics.records}.${partition}`);
    await producer.connect();
    this.producers.set(partition, producer);
    const [offsets] = await this.admin!.fetchOffsets({ groupId: this.groupId, topics: [this.topics.records] });
    return { producer, committed: Number(offsets?.partitions.find((p) => p.partition === partition)?.offset ?? -1) };
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning }: EachBatchPayload): Promise<void> {
    if (!batch.messages.length || !isRunning()) return;
    const last = batch.messages[batch.messages.length - 1];
    const { producer, committed } = await this.producer(batch.partition);
    const input = batch.messages.filter((m) => Number(m.offset) >= committed);
    if (!input.length) {
      resolveOffset(last.offset);
      return;
    }
    const records: FlowRecord[] = [];
    const deadLetters: Message[] = [];
    for (const message of input) {
      try {
        records.push(...FlowRecordBatch.parse(JSON.parse(message.value?.toString() ?? '')).records);
      } catch (err) {
        this.metrics.deadLetters.inc();
        this.deps.log.warn({ partition: batch.partition, offset: message.offset, err: (err as Error).message }, 'undecodable record batch sent to the DLQ');
        deadLetters.push(deadLetter({ topic: batch.topic, partition: batch.partition, offset: message.offset, key: message.key, value: message.value }, err));
      }
    }
    const storing = this.store(records, heartbeat);
    this.storing.add(storing);
    const stored = await storing.finally(() => this.storing.delete(storing));
    // Making a batch's Kafka messages blocks the event loop for a while: the stores of the other
    // partitions that run now finish first, so their records are queryable sooner. Stores that
    // start later are not waited for, nor one for longer than STORE_WAIT_MS (it may be waiting
    // out a Postgres outage: the other partitions go on).
    if (this.storing.size) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.storing]), new Promise((r) => (timer = setTimeout(r, STORE_WAIT_MS)))]);
      clearTimeout(timer);
    }
    if (!stored.ok) {
      this.metrics.deadLetters.inc();
      deadLetters.push(deadLetter({ topic: batch.topic, partition: batch.partition, offset: last.offset, key: last.key, value: Buffer.from(JSON.stringify({ records })) }, stored.error));
    }
    const delivered = stored.ok ? records : [];
    const messages = await this.deliveries(delivered);
    const tx = await producer.transaction();
    try {
      for (const [topic, msgs] of messages) await sendBounded(tx, topic, msgs);
      await sendBounded(tx, this.topics.dlq, deadLetters);
      const next = String(Number(last.offset) + 1);
      await tx.sendOffsets({ consumerGroupId: this.groupId, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => {});
      // Dropping the producer lets the retried batch start from a clean transactional state.
      this.producers.delete(batch.partition);
      await producer.disconnect().catch(() => {});
      throw err;
    }
    resolveOffset(last.offset);
    this.metrics.records.inc(delivered.length);
    await heartbeat();
  }

  /** Stores the records; waits out an unreachable Postgres and retries deadlocks; gives up after bounded attempts on any other error. */
  private async store(records: FlowRecord[], heartbeat: () => Promise<void>): Promise<{ ok: true } | { ok: false; error: unknown }> {
    if (!records.length) return { ok: true };
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
        this.metrics.rollupFolded.inc(await foldRollup(this.pool));
      } catch (err) {
        this.metrics.rollupFoldFailures.inc();
        this.deps.log.warn({ err: (err as Error).message }, 'folding the pending rollup rows failed; retrying at the next interval');
      }
    });
    return this.folding;
  }

  /**
   * Drops the day partitions past every logset's retention and deletes older rows of shorter ones.
   * One publisher at a time does it (an advisory lock); the others skip this round. No rollup fold
   * runs meanwhile.
   */
  async applyRetention(now = Date.now() / 1000): Promise<{ dropped: string[]; deleted: number }> {
    const client = await this.pool!.connect();
    try {
      const { rows: [lock] } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [ADVISORY_LOCKS.retention]);
      if (!lock.ok) return { dropped: [], deleted: 0 };
      try {
        // No fold meanwhile: one that took pending rows before a delete below, and committed after it,
        // would leave their hours in the rollup without their records.
        await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.rollupFold]);
        const partitions = (await client.query<{ name: string }>(
          "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'flow_records'",
        )).rows.map((r) => parseDayPartition(r.name)).filter((p): p is DayPartition => p !== undefined);
        const topics = (await client.query<{ logTopicId: string; retentionDays: number }>(
          'SELECT t.id AS "logTopicId", l.retention_days AS "retentionDays" FROM log_topics t JOIN logsets l ON l.id = t.logset_id',
        )).rows;
        const plan = retentionPlan(partitions, topics, now);
        // The rollup's rows first: should this stop between the two, the next round drops the partitions again.
        if (plan.rollupBefore !== undefined) {
          await client.query('DELETE FROM flow_rollup_pending WHERE window_start < $1', [plan.rollupBefore]);
          await client.query('DELETE FROM flow_rollup_hourly WHERE hour < $1', [plan.rollupBefore]);
        }
        // Names come from parseDayPartition's pattern, so they are safe identifiers.
        for (const name of plan.dropPartitions) await client.query(`DROP TABLE IF EXISTS ${name}`);
        let deleted = 0;
        for (const d of plan.deletes) {
          deleted += (await client.query(
            'WITH rollup AS (DELETE FROM flow_rollup_hourly WHERE log_topic_id = ANY($1) AND hour < $2), '
            + 'pending AS (DELETE FROM flow_rollup_pending WHERE log_topic_id = ANY($1) AND window_start < $2) '
            + 'DELETE FROM flow_records WHERE log_topic_id = ANY($1) AND window_start < $2',
            [d.logTopicIds, d.before],
          )).rowCount ?? 0;
        }
        for (const name of plan.dropPartitions) this.knownPartitions.delete(name);
        if (plan.dropPartitions.length || deleted) this.deps.log.info({ dropped: plan.dropPartitions, deleted }, 'retention applied');
        this.metrics.retentionDrops.inc(plan.dropPartitions.length);
        return { dropped: plan.dropPartitions, deleted };
      } finally {
        await client.query('SELECT pg_advisory_unlock_all()');
      }
    } finally {
      client.release();
    }
  }

  /** Messages per log topic's Kafka topic, each record keyed by its flow key, in the log topic's format (read again every few seconds). */
  private async deliveries(records: FlowRecord[]): Promise<Map<string, Message[]>> {
    const now = Date.now();
    const stale = [...new Set(records.map((r) => r.logTopicId))].filter((id) => !((this.targets.get(id)?.expiresAt ?? 0) > now));
    if (stale.length) {
      const { rows } = await this.pool!.query<{ id: string; kafka_topic: string; format: RecordFormat }>('SELECT id, kafka_topic, format FROM log_topics WHERE id = ANY($1)', [stale]);
      for (const row of rows) this.targets.set(row.id, { kafkaTopic: row.kafka_topic, format: row.format, expiresAt: now + TARGET_TTL_MS });
    }
    const out = new Map<string, Message[]>();
    for (const r of records) {
      const target = this.targets.get(r.logTopicId) ?? { kafkaTopic: this.topics.logTopic(r.logTopicId), format: 'json' as const };
      const key = `${r.interfaceId}|${r.srcaddr ?? '-'}|${r.dstaddr ?? '-'}|${r.srcport ?? '-'}|${r.dstport ?? '-'}|${r.protocol ?? '-'}|${r.action ?? '-'}`;
      const msgs = out.get(target.kafkaTopic) ?? [];
      msgs.push({ key, value: formatRecord(r, target.format), headers: { 'flowlogs-record-id': r.recordId } });
      out.set(target.kafkaTopic, msgs);
    }
    return out;
  }
}
