/**
 * The capture agent: owns ENIs, reads each one's packets from its source, and publishes packet
 * batches keyed by ENI id. This foundation reads capture files (once, or in a loop for the demo).
 */
import type { Admin, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { topicNames, type TopicNames } from '@flowlogs/contracts';
import { ensureTopics, pipelineTopics, reliableProducer, type Kafka } from '@flowlogs/kafka';
import { HealthServer, type Logger } from '@flowlogs/runtime';
import type { CaptureAgentConfig, EniSource } from './config.js';
import { fetchEni, type EniInfo } from './inventory.js';
import { agentMetrics, type AgentMetrics } from './metrics.js';
import { replayCapture, scanCapture } from './replay.js';

export interface CaptureAgentDeps {
  config: CaptureAgentConfig;
  log: Logger;
  kafka: Kafka;
  registry: Registry;
  enis: EniSource[];
}

export class CaptureAgent {
  private readonly topics: TopicNames;
  private readonly metrics: AgentMetrics;
  private readonly abort = new AbortController();
  private producer: Producer | undefined;
  private admin: Admin | undefined;
  private health: HealthServer | undefined;
  private tasks: Promise<void>[] = [];
  private running = false;

  constructor(private readonly deps: CaptureAgentDeps) {
    this.topics = topicNames(deps.config.FLOWLOGS_TOPIC_PREFIX);
    this.metrics = agentMetrics(deps.registry);
  }

  async start(): Promise<void> {
    const { config, kafka, log } = this.deps;
    this.health = new HealthServer(this.deps.registry, { live: () => true, ready: () => this.running }, config.METRICS_HOST, config.METRICS_PORT);
    await this.health.start();
    this.admin = kafka.admin();
    await this.admin.connect();
    await ensureTopics(this.admin, pipelineTopics(this.topics, this.deps.config.KAFKA_PARTITIONS));
    this.producer = reliableProducer(kafka);
    await this.producer.connect();
    this.running = true;
    this.tasks = this.deps.enis.map((eni) => this.runEni(eni).catch((err) => log.error({ err, eni: eni.id }, 'capture source failed')));
    log.info({ enis: this.deps.enis.map((e) => e.id) }, 'capture agent started');
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await Promise.all(this.tasks);
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    await this.health?.stop();
  }

  private async resolve(eni: EniSource): Promise<EniInfo> {
    if (eni.accountId && eni.vpcId && eni.subnetId) {
      return { eniId: eni.id, accountId: eni.accountId, vpcId: eni.vpcId, subnetId: eni.subnetId, primaryIp: eni.primaryIp };
    }
    const { FLOWLOGS_API_URL, FLOWLOGS_API_KEY } = this.deps.config;
    return fetchEni(FLOWLOGS_API_URL, FLOWLOGS_API_KEY, eni.id);
  }

  private async runEni(eni: EniSource): Promise<void> {
    const info = await this.resolve(eni);
    const { path, speed, loop, rebase } = eni.source;
    const span = loop ? await scanCapture(path) : undefined;
    // Each round of a loop continues the timeline where the last one ended (plus one second).
    const roundLength = span && span.packets ? span.lastTs - span.firstTs + 1 : 0;
    for (let round = 0; round === 0 || (loop && !this.abort.signal.aborted); round++) {
      const counters = await replayCapture({
        producer: this.producer!, topic: this.topics.packets, eni: info, eniIp: eni.primaryIp ?? info.primaryIp, agentId: this.deps.config.FLOWLOGS_AGENT_ID,
        path, speed, rebase: rebase || loop, batchPackets: this.deps.config.FLOWLOGS_BATCH_PACKETS, signal: this.abort.signal,
        onBatch: ({ packets, skipped }) => {
          this.metrics.batches.inc({ eni: eni.id });
          this.metrics.packets.inc({ eni: eni.id }, packets + Object.values(skipped).reduce((a, b) => a + b, 0));
          for (const [reason, n] of Object.entries(skipped)) this.metrics.skipped.inc({ eni: eni.id, reason }, n);
        },
      });
      this.deps.log.info({ eni: eni.id, path, round, received: counters.received, skipped: counters.skipped }, 'capture replayed');
      if (loop && roundLength && speed === 'max') await new Promise((r) => setTimeout(r, roundLength * 1000));
    }
  }
}
