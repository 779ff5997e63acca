/**
 * The capture agent: owns ENIs, reads each one's packets from its source, and publishes packet
 * batches keyed by ENI id through one bounded queue, so memory stays bounded when Kafka is slow.
 */
import type { Admin, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { topicNames, type TopicNames } from '@flowlogs/contracts';
import { ensureTopics, pipelineTopics, reliableProducer, type Kafka } from '@flowlogs/kafka';
import { HealthServer, type Logger } from '@flowlogs/runtime';
import { BatchQueue } from './batch-queue.js';
import type { CaptureAgentConfig, EniSource } from './config.js';
import { EniStream } from './eni-stream.js';
import { bindAgent, fetchEni, registerEni, type EniInfo } from './inventory.js';
import { agentMetrics, type AgentMetrics } from './metrics.js';
import { sendQueued } from './sender.js';
import { fileSource } from './sources/file-source.js';
import { nflogSource, tcpdumpSource, verdictedLiveSource } from './sources/live-source.js';
import type { CaptureSource } from './sources/source.js';

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
  private abort = new AbortController();
  private queue: BatchQueue;
  private producer: Producer | undefined;
  private admin: Admin | undefined;
  private health: HealthServer | undefined;
  private tasks: Promise<void>[] = [];
  private sending: Promise<void> | undefined;
  private running = false;

  constructor(private readonly deps: CaptureAgentDeps) {
    this.topics = topicNames(deps.config.FLOWLOGS_TOPIC_PREFIX);
    this.metrics = agentMetrics(deps.registry);
    this.queue = new BatchQueue(deps.config.FLOWLOGS_AGENT_QUEUE_BYTES);
  }

  async start(): Promise<void> {
    const { config, kafka, log } = this.deps;
    // Fresh for every start: a start that failed was stopped, and is tried again.
    this.abort = new AbortController();
    this.queue = new BatchQueue(config.FLOWLOGS_AGENT_QUEUE_BYTES);
    this.health = await HealthServer.listen(this.deps.registry, config, () => this.running);
    this.admin = kafka.admin();
    await this.admin.connect();
    await ensureTopics(this.admin, pipelineTopics(this.topics, config, ['packets']));
    this.producer = reliableProducer(kafka);
    await this.producer.connect();
    this.sending = sendQueued(this.queue, this.producer, this.topics.packets, log);
    this.running = true;
    this.tasks = this.deps.enis.map((eni) =>
      this.runEni(eni).catch((err: Error) => {
        // One line an operator can act on; the stack only at debug level.
        log.error({ eni: eni.id, err: err.message }, 'capture source failed');
        log.debug({ eni: eni.id, err }, 'capture source failed');
      }),
    );
    log.info({ enis: this.deps.enis.map((e) => e.id) }, 'capture agent started');
  }

  /** Stops the sources, then sends what is queued before disconnecting. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await Promise.all(this.tasks);
    this.queue.close();
    await this.sending;
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    await this.health?.stop();
  }

  /**
   * The ENI's account, VPC and subnet, by registering it in its subnet (subnetId and primaryIp in the
   * config) or from the control plane; then the ENI is bound to this agent, which gives its secret.
   */
  private async resolve(eni: EniSource): Promise<{ info: EniInfo; secret: string }> {
    const { FLOWLOGS_API_URL, FLOWLOGS_API_KEY, FLOWLOGS_AGENT_ID } = this.deps.config;
    const info =
      eni.subnetId && eni.primaryIp
        ? await registerEni(FLOWLOGS_API_URL, FLOWLOGS_API_KEY, {
            id: eni.id,
            subnetId: eni.subnetId,
            name: eni.name ?? eni.id,
            primaryIp: eni.primaryIp,
            agentId: FLOWLOGS_AGENT_ID,
          })
        : await fetchEni(FLOWLOGS_API_URL, FLOWLOGS_API_KEY, eni.id);
    return { info, secret: await bindAgent(FLOWLOGS_API_URL, FLOWLOGS_API_KEY, eni.id, FLOWLOGS_AGENT_ID) };
  }

  private async openSource(eni: EniSource): Promise<CaptureSource> {
    const s = eni.source;
    const onListening = (line: string) => this.deps.log.info({ eni: eni.id, tcpdump: line }, 'capture listening');
    switch (s.type) {
      case 'file':
        return fileSource({
          path: s.path,
          speed: s.speed,
          rebase: s.rebase || s.loop,
          onFormatError: (err) =>
            this.deps.log.warn({ eni: eni.id, path: s.path, err: err.message }, 'capture ends early: corrupt'),
        });
      case 'live': {
        const o = {
          interface: s.interface,
          filter: s.filter,
          snaplen: s.snaplen,
          immediate: s.immediate,
          netns: s.netns,
          onListening,
        };
        return s.verdicts ? verdictedLiveSource({ ...o, groups: s.verdicts.nflogGroups }) : tcpdumpSource(o);
      }
      case 'nflog':
        return nflogSource({ groups: s.groups, netns: s.netns, onListening });
    }
  }

  private async runEni(eni: EniSource): Promise<void> {
    const { info, secret } = await this.resolve(eni);
    const { config, log } = this.deps;
    log.info(
      { eni: eni.id, account: info.accountId, vpc: info.vpcId, subnet: info.subnetId, agent: config.FLOWLOGS_AGENT_ID },
      'ENI registered',
    );
    // A looping source (the demo) is opened again each round, its timestamps moved to now again.
    do {
      const source = await this.openSource(eni);
      log.info({ eni: eni.id, source: source.name }, 'capture source started');
      const stream = new EniStream({
        eni: info,
        eniIp: eni.primaryIp ?? info.primaryIp,
        agentId: config.FLOWLOGS_AGENT_ID,
        secret,
        source,
        queue: this.queue,
        batchPackets: config.FLOWLOGS_BATCH_PACKETS,
        flushMs: config.FLOWLOGS_FLUSH_MS,
        heartbeatMs: config.FLOWLOGS_HEARTBEAT_MS,
        verdictHoldMs: eni.source.type === 'live' ? eni.source.verdicts?.holdMs : undefined,
        onBatch: ({ packets, skipped, dropped }) => {
          this.metrics.batches.inc({ eni: eni.id });
          this.metrics.packets.inc({ eni: eni.id }, packets);
          if (dropped) this.metrics.dropped.inc({ eni: eni.id }, dropped);
          for (const [reason, n] of Object.entries(skipped)) this.metrics.skipped.inc({ eni: eni.id, reason }, n);
        },
      });
      const counters = await stream.run(this.abort.signal);
      log.info(
        { eni: eni.id, source: source.name, received: counters.received, skipped: counters.skipped },
        'capture source ended',
      );
    } while (eni.source.type === 'file' && eni.source.loop && !this.abort.signal.aborted);
  }
}
