/**
 * The whole pipeline with credentials and TLS on every link: a broker of its own that speaks only
 * SASL_SSL (SCRAM-SHA-512 users made by Kafka's storage tool, certificates made by openssl here, ACLs
 * on with allow.everyone.if.no.acl.found=false), the ACLs of `flowlogs kafka-acls --apply`, each
 * service a process with its own principal, and Postgres over TLS with sslmode=verify-full. Records
 * of a replayed capture must reach Postgres and the log topic's Kafka topic (read by the read-only
 * log-reader principal); the agent's principal must be refused the records topic and the log topic.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { topicNames, type FlowRecord } from '@flowlogs/contracts';
import { recordsFromCapture } from '@flowlogs/flow';
import { createKafka, type Kafka } from '@flowlogs/kafka';
import { resetLocalKafka, ensureLocalKafka, localCertificates, type SecureOptions } from '@flowlogs/local-kafka';
import { demoCapture, DEMO_NETWORK } from '@flowlogs/packet/demo-capture';
import { parseConfig, CommonConfig } from '@flowlogs/runtime';
import { createTestDatabase, testLogger, uniquePrefix, type TestDatabase } from '@flowlogs/testkit';
import { closedPort, flowlogs } from './support/cli.js';
import { ensurePostgresTls } from './support/postgres-tls.js';
import { ROOT, apiCaller, kill9, spawnService, type ServiceProcess } from './support/services.js';
import { flowView, until } from './support/stack.js';

const OUT = join(ROOT, 'test-output', 'secure-pipeline');
/** Ports of this test's broker alone (client, controller), away from the shared one and the fault tests'. */
const PORT = 19_392;
const ROLES = ['agent', 'aggregator', 'publisher', 'control-plane', 'log-reader'] as const;
const PASSWORDS = Object.fromEntries(['admin', ...ROLES].map((u) => [u, `${u}-secret-0123`]));
const API_KEY = 'secure-test-admin-key-0123456789';
const START = 1_700_000_000;

describe('the pipeline with SASL_SSL, ACLs and Postgres over TLS', () => {
  const secure: SecureOptions = { dir: join(OUT, 'certs'), users: PASSWORDS };
  const kafkaOptions = {
    port: PORT,
    controllerPort: PORT + 1,
    secure,
    log: (m: string) => console.error(`[secure kafka] ${m}`),
  };
  const prefix = uniquePrefix();
  const log = testLogger();
  let postgresCa: string | undefined;
  let skipped: string | undefined;
  let db: TestDatabase;
  let brokers: string[];
  let ca: string;
  const processes: ServiceProcess[] = [];

  /** The Kafka settings of a role's principal. */
  const kafkaEnv = (user: string) => ({
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SASL_USERNAME: user,
    KAFKA_SASL_PASSWORD: PASSWORDS[user],
    KAFKA_SSL_CA_FILE: ca,
    FLOWLOGS_TOPIC_PREFIX: prefix,
  });
  const kafkaAs = (user: string): Kafka =>
    createKafka(brokers, `secure-test-${user}`, log, parseConfig(CommonConfig, kafkaEnv(user)));

  beforeAll(async () => {
    const tls = await ensurePostgresTls(inject('databaseUrl'));
    if ('unavailable' in tls) {
      skipped = tls.unavailable;
      return;
    }
    postgresCa = tls.ca;
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    ca = (await localCertificates(secure.dir)).ca;
    // A fresh broker: its storage formatted with this run's users.
    await resetLocalKafka(kafkaOptions);
    brokers = (await ensureLocalKafka(kafkaOptions)).brokers;
    db = await createTestDatabase();
  }, 180_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => kill9(p)));
    await db?.drop();
    if (!skipped) await resetLocalKafka(kafkaOptions);
  }, 60_000);

  it('delivers records with a principal per role, and refuses the agent what is not its own', async (ctx) => {
    if (skipped) ctx.skip(`Postgres TLS cannot be set up: ${skipped}`);
    const acls = await flowlogs(['kafka-acls', '--apply'], { ...kafkaEnv('admin'), LOG_LEVEL: 'warn' });
    expect(acls.stderr).toBe('');
    expect(acls.stdout).toMatch(new RegExp(`^\\d+ ACLs for topic prefix ${prefix}: User:agent, `));

    // The services connect to Postgres over TLS only, checking its certificate and its name.
    const tlsUrl = new URL(db.url);
    tlsUrl.search = `?sslmode=verify-full&sslrootcert=${postgresCa}`;
    const httpPort = await closedPort();
    const api = `http://127.0.0.1:${httpPort}`;
    const service = (name: 'control-plane' | 'aggregator' | 'publisher') => {
      const p = spawnService(OUT, name, name, {
        ...kafkaEnv(name),
        DATABASE_URL: tlsUrl.toString(),
        FLOWLOGS_API_KEY: API_KEY,
        HTTP_PORT: String(httpPort),
        METRICS_PORT: '0',
        FLOWLOGS_IDLE_CLOSE_MS: '500',
        LOG_LEVEL: 'warn',
      });
      processes.push(p);
      return p;
    };
    service('control-plane');
    const call = apiCaller(api, API_KEY);
    await until(
      'the control plane to be ready',
      () =>
        fetch(`${api}/readyz`).then(
          (r) => (r.ok ? true : undefined),
          () => undefined,
        ),
      90_000,
    );
    service('aggregator');
    service('publisher');

    const vpc = await call('POST', '/v1/vpcs', { name: 'prod', cidrBlock: DEMO_NETWORK.vpcCidr });
    const subnet = await call('POST', '/v1/subnets', {
      vpcId: vpc.id,
      name: 'web',
      cidrBlock: DEMO_NETWORK.subnetCidr,
    });
    const eni = await call('POST', '/v1/network-interfaces', {
      subnetId: subnet.id,
      name: 'cvm-a',
      primaryIp: DEMO_NETWORK.eniIp,
    });
    const logset = await call('POST', '/v1/logsets', { name: 'audit' });
    const topic = await call('POST', '/v1/log-topics', { logsetId: logset.id, name: 'flows' });
    await call('POST', '/v1/flow-logs', {
      name: 'all',
      resourceType: 'NETWORKINTERFACE',
      resourceId: eni.id,
      trafficType: 'ALL',
      logTopicId: topic.id,
      aggregationInterval: 10,
    });
    const agentKey = (await call('POST', '/v1/api-keys', { role: 'agent' })).key;

    const capture = join(OUT, 'demo.pcap');
    writeFileSync(capture, demoCapture(START));
    const eniContext = { eniId: eni.id, accountId: eni.accountId, vpcId: vpc.id, subnetId: subnet.id };
    const offline = (await recordsFromCapture(capture, { interval: 10, eni: eniContext, eniIp: DEMO_NETWORK.eniIp }))
      .records;
    expect(offline.length).toBeGreaterThan(10);

    // The agent: `flowlogs replay` as a host runs it, with the agent's principal.
    const replay = await flowlogs(['replay', '--pcap', capture, '--eni', eni.id], {
      ...kafkaEnv('agent'),
      FLOWLOGS_API_URL: api,
      FLOWLOGS_API_KEY: agentKey,
      FLOWLOGS_AGENT_ID: 'secure-host',
    });
    expect(replay.stderr).toMatch(/^replayed \d+ frames for /m);
    expect(replay.code).toBe(0);

    const stored = async () =>
      (
        await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM flow_records WHERE log_topic_id = $1', [
          topic.id,
        ])
      ).rows[0].n;
    await until('the records in Postgres', async () => ((await stored()) >= offline.length ? true : undefined), 60_000);
    expect(await stored()).toBe(offline.length);

    // The read-only consumer of log topics reads the log topic's Kafka topic, in a group of its own prefix.
    const records: FlowRecord[] = [];
    const reader = kafkaAs('log-reader').consumer({ groupId: `${prefix}.log-reader.test`, readUncommitted: false });
    await reader.connect();
    try {
      await reader.subscribe({ topic: topic.kafkaTopic, fromBeginning: true });
      await reader.run({
        eachMessage: async ({ message }) => {
          records.push(JSON.parse(message.value!.toString()));
        },
      });
      await until(
        'the records on the log topic',
        async () => (records.length >= offline.length ? true : undefined),
        30_000,
      );
    } finally {
      await reader.disconnect();
    }
    // The same records in both places, once each, and as the offline path makes them.
    const { rows } = await db.pool.query<{ record_id: string }>(
      'SELECT record_id FROM flow_records WHERE log_topic_id = $1',
      [topic.id],
    );
    expect(records.map((r) => r.recordId).sort()).toEqual(rows.map((r) => r.record_id).sort());
    expect(new Set(records.map((r) => r.recordId)).size).toBe(offline.length);
    expect(records.map(flowView).sort()).toEqual(offline.map(flowView).sort());

    // The agent's principal writes packets, and nothing else: one line names what it was refused.
    const agent = kafkaAs('agent');
    const spy = agent.consumer({ groupId: `${prefix}.agent-spy` });
    await spy.connect();
    await expect(spy.subscribe({ topic: topicNames(prefix).records, fromBeginning: true })).rejects.toThrow(
      `Kafka denied User:agent Read on topic ${topicNames(prefix).records} (TOPIC_AUTHORIZATION_FAILED)`,
    );
    await spy.disconnect();
    const forger = agent.producer();
    await forger.connect();
    await expect(forger.send({ topic: topic.kafkaTopic, messages: [{ value: '{"forged":true}' }] })).rejects.toThrow(
      `Kafka denied User:agent Write on topic ${topic.kafkaTopic} (TOPIC_AUTHORIZATION_FAILED)`,
    );
    await forger.disconnect();

    // A wrong password: one line naming whose.
    const impostor = createKafka(
      brokers,
      'secure-test-impostor',
      log,
      parseConfig(CommonConfig, { ...kafkaEnv('agent'), KAFKA_SASL_PASSWORD: 'not-the-password' }),
    ).admin();
    await expect(impostor.connect()).rejects.toThrow(
      /^Kafka refused the credentials of User:agent: SASL SCRAM SHA512 authentication failed/,
    );

    // Every service ran without a refusal.
    for (const p of processes) expect(p.alive(), `${p.name} is running`).toBe(true);
  }, 240_000);
});
