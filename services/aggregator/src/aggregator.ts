/**
 * The aggregator: packet events in, flow records out, exactly once. Each input partition has its
 * own windows (in a TransactionalStage of libs/kafka, with its own transactional producer); records
 * and the input offset are committed in one Kafka transaction, so a crash or a rebalance replays
 * without duplicating.
 */
import type { Admin, KafkaMessage } from 'kafkajs';
import type { Registry } from 'prom-client';
import {
  EniBinding,
  FlowLogRule,
  SIGNATURE_HEADER,
  bindingKey,
  decodePacketBatch,
  newPacketEvent,
  topicNames,
  untrustedBecause,
  type FlowRecord,
  type TopicNames,
  type UntrustedReason,
} from '@flowlogs/contracts';
import { FlowWindows, RuleSet, eniKeyOf, type CloseTimes } from '@flowlogs/flow';
import {
  CompactedTopicReader,
  TransactionalStage,
  ensureTopics,
  pipelineTopics,
  type Kafka,
  type StageOutput,
  type StagePosition,
} from '@flowlogs/kafka';
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
  /** Input up to this offset was processed before a restart: its emitted windows are skipped silently. */
  replayedThrough: number;
  /** The event time of each ENI's last batch, for liveness between batches (by eniKeyOf: ENI ids are per account). */
  lastReport: Map<string, number>;
  /** What each ENI's source last said of itself (live traffic, or a file replay, ended or not), and when (by eniKeyOf). */
  sources: Map<string, EniSource>;
}

interface EniSource {
  live: boolean;
  ended: boolean;
  /** The sequence number of its last batch: it starts again when the agent does. */
  sequence: number;
  /** The event time of its last batch, and when that batch was read (ms). */
  eventTime: number;
  at: number;
}

/** A packet batch not provably from the agent its ENI is bound to: dead-lettered with its reason, never aggregated. */
class UntrustedBatchError extends Error {
  constructor(
    readonly reason: UntrustedReason,
    message: string,
    readonly claim: { eniId: string; agentId: string; accountId: string },
  ) {
    super(`untrusted packet batch: ${message}`);
  }
}

/** The agent sends a heartbeat every few seconds: a longer silence means the ENI was not capturing. */
const LIVENESS_GAP_S = 30;

export class Aggregator {
  private readonly topics: TopicNames;
  private readonly groupId: string;
  private readonly metrics: AggregatorMetrics;
  private readonly rules = new RuleSet();
  private readonly event = newPacketEvent();
  private admin: Admin | undefined;
  private rulesReader: CompactedTopicReader | undefined;
  /** Each ENI's binding to its agent (key: bindingKey), from the compacted inventory topic. */
  private readonly bindings = new Map<string, EniBinding>();
  private inventoryReader: CompactedTopicReader | undefined;
  private stage: TransactionalStage<PartitionState> | undefined;
  private health: HealthServer | undefined;
  /** Partitions of the records topic: a commit's messages go round them, so every publisher gets a share. */
  private recordsPartitions = 1;
  private running = false;

  constructor(private readonly deps: AggregatorDeps) {
    this.topics = topicNames(deps.config.FLOWLOGS_TOPIC_PREFIX);
    this.groupId = `${deps.config.FLOWLOGS_TOPIC_PREFIX}.aggregator`;
    this.metrics = aggregatorMetrics(deps.registry);
  }

  async start(): Promise<void> {
    const { kafka, config, log } = this.deps;
    this.health = await HealthServer.listen(this.deps.registry, config, () => this.running);
    this.admin = kafka.admin();
    await this.admin.connect();
    await ensureTopics(
      this.admin,
      pipelineTopics(this.topics, this.deps.config, ['packets', 'rules', 'inventory', 'records', 'dlq']),
    );
    const metadata = await this.admin.fetchTopicMetadata({ topics: [this.topics.records] });
    this.recordsPartitions = Math.max(1, metadata.topics[0]?.partitions.length ?? 1);

    // Rules: the whole compacted topic from the beginning, every start.
    this.rulesReader = new CompactedTopicReader(kafka, log, this.topics.rules, `${this.groupId}.rules`, (id, value) =>
      this.applyRule(id, value),
    );
    await this.rulesReader.start();
    this.inventoryReader = new CompactedTopicReader(
      kafka,
      log,
      this.topics.inventory,
      `${this.groupId}.inventory`,
      (key, value) => this.applyBinding(key, value),
    );
    await this.inventoryReader.start();

    const { FLOWLOGS_ALLOWED_LATENESS_S: allowedLateness, FLOWLOGS_MAX_FLOWS_PER_PARTITION: maxFlows } = config;
    this.stage = new TransactionalStage<PartitionState>({
      kafka,
      log,
      groupId: this.groupId,
      input: this.topics.packets,
      dlq: this.topics.dlq,
      consumer: { maxBytesPerPartition: 4 << 20 },
      processor: {
        open: (partition, committed) => {
          const windows = new FlowWindows({ allowedLateness, maxFlows });
          const meta = decodeCommitMetadata(committed.metadata);
          if (meta) windows.restore(meta.emitted);
          return {
            partition,
            windows,
            replayedThrough: meta?.processedThrough ?? -1,
            lastReport: new Map(),
            sources: new Map(),
          };
        },
        // A rule or binding acknowledged before a batch was produced applies to it: the control plane
        // answers an agent's binding only once it is on the inventory topic, so its first batch finds it.
        beforeBatch: async () => {
          await Promise.all([
            this.rulesReader!.waitCaughtUp(this.admin!),
            this.inventoryReader!.waitCaughtUp(this.admin!),
          ]);
        },
        read: (state, message, offset) => this.addBatch(state, message, offset),
        deadLettered: (partition, offset, err) => {
          this.metrics.deadLetters.inc();
          if (err instanceof UntrustedBatchError) {
            this.metrics.untrustedBatches.inc({ reason: err.reason });
            const { agentId, eniId, accountId } = err.claim;
            log.warn(
              { partition, offset, agent: agentId, eni: eniId, account: accountId, reason: err.reason },
              `${err.message}; sent to the DLQ`,
            );
          } else {
            log.warn({ partition, offset, err: err.message }, 'undecodable packet batch sent to the DLQ');
          }
        },
        complete: (state, { position }) => this.emit(state, position, this.closeTimes(state, Date.now())),
        idle: (state, position, now) => this.idleClose(state, position, now),
      },
    });
    await this.stage.start();
    this.running = true;
    log.info({ group: this.groupId, topic: this.topics.packets }, 'aggregator started');
  }

  async stop(): Promise<void> {
    this.running = false;
    // Open windows are not emitted: their input is not committed, and the next owner replays it.
    await this.stage?.stop();
    await this.rulesReader?.stop();
    await this.inventoryReader?.stop();
    await this.admin?.disconnect();
    await this.health?.stop();
  }

  private applyRule(id: string, value: Buffer | null): void {
    if (!value) {
      this.rules.apply(id, null);
    } else {
      const parsed = FlowLogRule.safeParse(JSON.parse(value.toString()));
      if (!parsed.success) {
        this.deps.log.error({ id, issues: parsed.error.issues }, 'invalid rule on the rules topic, ignored');
        return;
      }
      this.rules.apply(id, parsed.data);
    }
    this.metrics.rules.set(this.rules.size);
  }

  private applyBinding(key: string, value: Buffer | null): void {
    if (!value) {
      this.bindings.delete(key);
      return;
    }
    const parsed = EniBinding.safeParse(JSON.parse(value.toString()));
    if (!parsed.success) {
      this.deps.log.error({ key, issues: parsed.error.issues }, 'invalid binding on the inventory topic, ignored');
      return;
    }
    this.bindings.set(key, parsed.data);
  }

  private addBatch(state: PartitionState, message: KafkaMessage, offset: number): void {
    const { event } = this;
    if (!message.value) throw new Error('empty packet batch');
    const view = decodePacketBatch(message.value);
    // Aggregated only when its ENI's bound agent signed it; the ENI's account, VPC and subnet are the binding's.
    const claim = view.header;
    const binding = this.bindings.get(bindingKey(claim.accountId, claim.eniId));
    const signature = message.headers?.[SIGNATURE_HEADER]?.toString();
    const untrusted = untrustedBecause(binding, claim, message.value, signature);
    if (untrusted) throw new UntrustedBatchError(untrusted.reason, untrusted.message, claim);
    const header = { ...claim, accountId: binding!.accountId, vpcId: binding!.vpcId, subnetId: binding!.subnetId };
    const rules = this.rules.covering(header);
    this.metrics.packets.inc(view.count);
    if (!rules.length) return;
    const replayed = offset <= state.replayedThrough;
    const { stats, eventTime, sequence } = header;
    const key = eniKeyOf(header);
    const before = state.sources.get(key);
    state.sources.set(key, { live: header.live, ended: header.ended, sequence, eventTime, at: Date.now() });
    for (let i = 0; i < view.count; i++) {
      view.read(i, event);
      for (const rule of rules) {
        if (replayed && state.windows.isEmitted(rule, header, event.ts)) continue;
        const result = state.windows.add(rule, header, event, offset);
        if (result === 'late' || result === 'capacity') this.metrics.skippedPackets.inc({ reason: result });
      }
    }
    for (const [second, dropped] of stats.dropsBySecond) {
      for (const rule of rules) {
        if (!(replayed && state.windows.isEmitted(rule, header, second)))
          state.windows.addSkipped(rule, header, second, dropped, offset);
      }
    }
    // Reports from an ENI less than LIVENESS_GAP_S apart mean it was capturing all along: NODATA where it had no traffic.
    const previous = state.lastReport.get(key);
    const liveFrom = previous !== undefined && eventTime - previous <= LIVENESS_GAP_S ? previous : eventTime;
    for (const rule of rules) state.windows.markLive(rule, header, liveFrom, eventTime, offset);
    // A new run of a live ENI's agent (its sequence started again): nothing was captured since its last report.
    if (before?.live && sequence <= before.sequence) {
      for (const rule of rules) state.windows.markGap(rule, header, before.eventTime, eventTime, offset);
    }
    state.lastReport.set(key, Math.max(eventTime, previous ?? -Infinity));
    state.windows.advance(header, eventTime);
  }

  /**
   * The time each ENI's windows close at, beyond its own event time: a file read to its end, or one
   * that sent nothing for FLOWLOGS_STALLED_REPLAY_MS (its agent died), closes all; a live source's
   * clock goes on from its last batch at the pace of ours (an agent that stopped reporting, or is
   * between heartbeats). A replay in progress keeps its own event time, however old.
   */
  private closeTimes(state: PartitionState, now: number): CloseTimes {
    return (key) => {
      const s = state.sources.get(key);
      if (!s) return undefined;
      if (s.ended || (!s.live && now - s.at >= this.deps.config.FLOWLOGS_STALLED_REPLAY_MS)) return Infinity;
      return s.live ? s.eventTime + (now - s.at) / 1000 : undefined;
    };
  }

  /**
   * The records of the windows due (closeDue's close times), chunked into messages that go round the
   * records topic's partitions (a key's hash would leave some publishers most of the work), keyed
   * by log topic; committed with the offset of the first input an open window still holds.
   */
  private emit(state: PartitionState, position: StagePosition, now: CloseTimes): StageOutput {
    const records = state.windows.closeDue(now);
    this.metrics.activeFlows.set(this.totalFlows());
    const byLogTopic = new Map<string, FlowRecord[]>();
    for (const r of records) {
      const list = byLogTopic.get(r.logTopicId);
      if (list) list.push(r);
      else byLogTopic.set(r.logTopicId, [r]);
    }
    const messages = [...byLogTopic]
      .flatMap(([logTopicId, rs]) =>
        chunk(rs, this.deps.config.FLOWLOGS_RECORDS_PER_MESSAGE).map((part, i) => ({
          key: `${logTopicId}/${i}`,
          value: JSON.stringify({ records: part }),
        })),
      )
      .map((message, i) => ({ ...message, partition: (state.partition + i) % this.recordsPartitions }));
    const offset = commitOffset(state.windows.minOpenPosition(), position.lastProcessed);
    const { text: metadata, left } = encodeCommitMetadata({
      emitted: state.windows.emittedFrom(offset),
      processedThrough: position.lastProcessed,
    });
    if (left)
      this.deps.log.warn({ partition: state.partition, left }, 'too many ENIs for the commit metadata; some left out');
    return {
      messages: [[this.topics.records, messages]],
      offset,
      metadata,
      committed: () => {
        this.metrics.transactions.inc();
        for (const r of records) this.metrics.records.inc({ log_status: r.logStatus });
      },
    };
  }

  /**
   * Closes what a partition's input will not add to any more, when it has read all there is and
   * had no input for FLOWLOGS_IDLE_CLOSE_MS: each ENI's windows by its clock (see closeTimes).
   */
  private idleClose(state: PartitionState, position: StagePosition, now: number): (() => StageOutput) | undefined {
    if (!state.windows.openWindows || now - position.lastInputAt < this.deps.config.FLOWLOGS_IDLE_CLOSE_MS)
      return undefined;
    return () => this.emit(state, position, this.closeTimes(state, now));
  }

  private totalFlows(): number {
    let n = 0;
    for (const s of this.stage?.states ?? []) n += s.windows.activeFlows;
    return n;
  }
}
