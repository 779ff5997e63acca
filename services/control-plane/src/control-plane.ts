/**
 * The control plane: the HTTP API over Postgres (the source of truth), publishing every flow-log rule
 * to the compacted rules topic so the aggregator follows without polling, and every log topic's
 * settings to the compacted log-topics topic for the publisher.
 */
import type { Admin, Producer } from 'kafkajs';
import { bindingKey, topicNames, type EniBinding, type FlowLogRule } from '@flowlogs/contracts';
import { createPool, ensureDatabase, migrate, type Pool } from '@flowlogs/db';
import {
  CompactedTopicReader,
  Partitioners,
  ensureTopics,
  pipelineTopics,
  topicConfig,
  type Kafka,
} from '@flowlogs/kafka';
import type { Registry } from 'prom-client';
import type { Logger } from '@flowlogs/runtime';
import { hashApiKey, newApiKey } from './api-key.js';
import type { ControlPlaneConfig } from './config.js';
import { createMetrics } from './metrics.js';
import { FLOW_LOGS } from './resources.js';
import { toRule } from './rules.js';
import { buildServer } from './server.js';
import { Store } from './store.js';

export { ControlPlaneConfig } from './config.js';

export interface ControlPlaneDeps {
  config: ControlPlaneConfig;
  log: Logger;
  kafka: Kafka;
  registry: Registry;
  /** A pool to use (tests); without one the service creates the database if needed, and its own pool. */
  pool?: Pool;
}

const DEFAULT_ACCOUNT = 'default';
const READY_TIMEOUT_MS = 2_000;
// Rules (and log-topic settings) per produce request at start-up, well inside the broker's default 1 MB request limit.
const REPUBLISH_BATCH = 500;

export class ControlPlane {
  private pool: Pool | undefined;
  private admin: Admin | undefined;
  private producer: Producer | undefined;
  private producerConnected = false;
  private server: ReturnType<typeof buildServer> | undefined;
  private address: string | undefined;

  constructor(private readonly deps: ControlPlaneDeps) {}

  /** The base URL the API listens on, e.g. http://127.0.0.1:8080 (the bound port when HTTP_PORT is 0). */
  get url(): string {
    if (!this.address) throw new Error('the control plane is not listening; call start() first');
    return this.address;
  }

  async start(): Promise<void> {
    const { config, log, kafka } = this.deps;
    const topics = topicNames(config.FLOWLOGS_TOPIC_PREFIX);
    const { registry } = this.deps;
    const metrics = createMetrics(registry);

    const pool = (this.pool = this.deps.pool ?? (await this.createPool(config.DATABASE_URL)));
    const applied = await migrate(pool);
    if (applied.length) log.info({ applied }, 'migrations applied');
    const store = new Store(pool);
    if (config.FLOWLOGS_API_KEY) await store.ensureAdminKey(hashApiKey(config.FLOWLOGS_API_KEY), DEFAULT_ACCOUNT);
    else {
      // No well-known key: the first start makes one and shows it this once (it is stored only hashed).
      const key = await store.bootstrapOperatorKey(DEFAULT_ACCOUNT, newApiKey);
      if (key)
        log.warn(
          { apiKey: key },
          `no FLOWLOGS_API_KEY: made the admin key of account "${DEFAULT_ACCOUNT}"; it is shown only this once`,
        );
    }

    const admin = (this.admin = kafka.admin());
    await admin.connect();
    await ensureTopics(admin, pipelineTopics(topics, config));
    // The rules topic has one partition; naming the partitioner only silences kafkajs' v2 migration warning.
    // Not idempotent: kafkajs wants unlimited retries for that, and an API call should fail rather than
    // wait forever; a rule written twice is harmless (the aggregator keeps each rule's highest revision).
    const producer = (this.producer = kafka.producer({
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    }));
    producer.on(producer.events.CONNECT, () => {
      this.producerConnected = true;
    });
    producer.on(producer.events.DISCONNECT, () => {
      this.producerConnected = false;
    });
    await producer.connect();

    const publishRules = async (rules: FlowLogRule[]) => {
      if (!rules.length) return;
      await producer.send({
        topic: topics.rules,
        acks: -1,
        messages: rules.map((r) => ({ key: r.id, value: JSON.stringify(r) })),
      });
      metrics.rulesPublished.inc(rules.length);
    };
    // Heals a crash between a flow log's insert and its publish. Other instances may republish older
    // revisions concurrently; the aggregator keeps the highest revision of each rule.
    const rules = (await store.find(FLOW_LOGS, {})).map(toRule);
    for (let i = 0; i < rules.length; i += REPUBLISH_BATCH) await publishRules(rules.slice(i, i + REPUBLISH_BATCH));
    log.info({ rules: rules.length }, 'rules republished');
    const publishLogTopics = async (where: { id?: string; logsetId?: string }) => {
      const settings = await store.logTopicSettings(where);
      for (let i = 0; i < settings.length; i += REPUBLISH_BATCH) {
        const messages = settings.slice(i, i + REPUBLISH_BATCH).map((s) => ({ key: s.id, value: JSON.stringify(s) }));
        await producer.send({ topic: topics.logTopicSettings, acks: -1, messages });
      }
    };
    // The same healing for the log topics' settings.
    await publishLogTopics({});
    const publishBindings = async (bindings: EniBinding[]) => {
      if (!bindings.length) return;
      await producer.send({
        topic: topics.inventory,
        acks: -1,
        messages: bindings.map((b) => ({ key: bindingKey(b.accountId, b.eniId), value: JSON.stringify(b) })),
      });
    };
    // Likewise for a crash between a binding's commit and its publish (a rebinding since is newer in both places).
    const bindings = await store.bindings();
    for (let i = 0; i < bindings.length; i += REPUBLISH_BATCH)
      await publishBindings(bindings.slice(i, i + REPUBLISH_BATCH));
    const tombstone = async (topic: string, keys: string[]) => {
      for (let i = 0; i < keys.length; i += REPUBLISH_BATCH) {
        const messages = keys.slice(i, i + REPUBLISH_BATCH).map((key) => ({ key, value: null }));
        await producer.send({ topic, acks: -1, messages });
      }
    };
    // And for a crash between a delete and its tombstone: what a settings topic still holds that the
    // store no longer has is tombstoned now. The topic is read before the store, so a key published
    // meanwhile is in the store already (rows are written before they are published).
    const tombstoneDeleted = async (topic: string, stored: () => Promise<string[]>) => {
      const live = await CompactedTopicReader.liveKeys(kafka, log, admin, topic, `${topic}.control-plane`);
      const kept = new Set(await stored());
      const stale = [...live].filter((key) => !kept.has(key));
      await tombstone(topic, stale);
      if (stale.length) log.info({ topic, tombstoned: stale.length }, 'deleted settings tombstoned');
    };
    await Promise.all([
      tombstoneDeleted(topics.rules, async () => (await store.find(FLOW_LOGS, {})).map((f) => f.id)),
      tombstoneDeleted(topics.logTopicSettings, async () => (await store.logTopicSettings({})).map((s) => s.id)),
      tombstoneDeleted(topics.inventory, async () =>
        (await store.bindings()).map((b) => bindingKey(b.accountId, b.eniId)),
      ),
    ]);

    this.server = buildServer({
      log,
      registry,
      metrics,
      ready: () => this.ready(store),
      api: {
        store,
        topics,
        publishRules,
        publishBinding: (binding) => publishBindings([binding]),
        deleteRule: (id) => tombstone(topics.rules, [id]),
        publishLogTopics,
        deleteLogTopic: (id) => tombstone(topics.logTopicSettings, [id]),
        deleteBinding: (accountId, eniId) => tombstone(topics.inventory, [bindingKey(accountId, eniId)]),
        createKafkaTopic: (topic) => ensureTopics(admin, [topicConfig(topic, config)]),
        kafka: { client: kafka, admin },
        rateLimit: config.FLOWLOGS_RATE_LIMIT,
      },
    });
    this.address = await this.server.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
  }

  /** Stops taking requests, lets those in flight finish, then closes the clients (also after a failed start). */
  async stop(): Promise<void> {
    const { server, producer, admin, pool } = this;
    this.server = this.producer = this.admin = this.pool = this.address = undefined;
    await server?.close();
    await producer?.disconnect();
    await admin?.disconnect();
    if (pool && pool !== this.deps.pool) await pool.end();
  }

  private async createPool(url: string): Promise<Pool> {
    await ensureDatabase(url);
    return createPool(url);
  }

  private async ready(store: Store): Promise<boolean> {
    if (!this.producerConnected) return false;
    const timeout = new Promise<boolean>((resolve) => setTimeout(resolve, READY_TIMEOUT_MS, false).unref());
    return Promise.race([store.ping(), timeout]);
  }
}
