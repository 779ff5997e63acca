import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { FIELDS, topicNames, type FlowRecord, type TopicNames } from '@flowlogs/contracts';
import { createRegistry } from '@flowlogs/runtime';
import { CompactedTopicReader } from '@flowlogs/kafka';
import { makeRecord, testLogger, type TestDatabase } from '@flowlogs/testkit';
import { ControlPlane } from '../src/control-plane.js';
import type { FieldList } from '../src/query/index.js';
import { addAccount as insertAccount, insertRecords, startControlPlane, type TestControlPlane } from './support.js';

const OTHER_KEY = 'test-other-key-0123456789';
const READONLY_KEY = 'test-readonly-key-0123456789';

let t: TestControlPlane;
let db: TestDatabase;
let kafka: Kafka;
let topics: TopicNames;

beforeAll(async () => {
  t = await startControlPlane();
  ({ db, kafka } = t);
  topics = topicNames(t.prefix);
});

afterAll(async () => {
  await t?.stop();
});

const api = (method: string, path: string, body?: unknown, key?: string | null) =>
  t.api(method, path, body, key).then(({ status, body }) => ({ status, body }));
const addAccount = (id: string, keys: Record<string, 'admin' | 'readonly'>) => insertAccount(db, id, keys);

/** The rule with this id on the rules topic, read from the beginning. */
async function publishedRule(id: string): Promise<unknown> {
  const consumer = kafka.consumer({ groupId: `${t.prefix}-rules-${id}` });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.rules, fromBeginning: true });
  try {
    return await new Promise<unknown>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (message.key?.toString() === id) resolve(JSON.parse(message.value!.toString()));
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
}

/** Another instance of the control plane on the same database and topics, started and stopped (a restart). */
async function startAndStopAnother(): Promise<void> {
  const another = new ControlPlane({
    config: t.config,
    log: testLogger(),
    kafka,
    pool: db.pool,
    registry: createRegistry('control-plane'),
  });
  await another.start();
  await another.stop();
}

describe('control plane API', () => {
  const ids: Record<string, string> = {};

  it('answers health, readiness and metrics without a key', async () => {
    expect((await api('GET', '/healthz', undefined, null)).status).toBe(200);
    expect(await api('GET', '/readyz', undefined, null)).toEqual({ status: 200, body: { status: 'ok' } });
    const metrics = await api('GET', '/metrics', undefined, null);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('flowlogs_http_requests_total{method="GET",route="/readyz",status="200"');
  });

  it('wants a known key', async () => {
    expect(await api('GET', '/v1/vpcs', undefined, null)).toMatchObject({
      status: 401,
      body: { error: 'Unauthorized', message: expect.stringContaining('missing API key') },
    });
    expect(await api('GET', '/v1/vpcs', undefined, 'nope')).toMatchObject({
      status: 401,
      body: { message: 'unknown API key' },
    });
  });

  it('creates VPC → subnet → ENI → logset → log topic → flow log', async () => {
    const vpc = await api('POST', '/v1/vpcs', { name: 'main', cidrBlock: '10.0.0.0/16' });
    expect(vpc).toMatchObject({
      status: 201,
      body: {
        id: expect.stringMatching(/^vpc-/),
        name: 'main',
        cidrBlock: '10.0.0.0/16',
        accountId: expect.stringMatching(/^\d{12}$/),
      },
    });
    ids.vpc = vpc.body.id;
    ids.account = vpc.body.accountId;

    const subnet = await api('POST', '/v1/subnets', { vpcId: ids.vpc, name: 'web', cidrBlock: '10.0.1.0/24' });
    expect(subnet).toMatchObject({
      status: 201,
      body: { id: expect.stringMatching(/^subnet-/), vpcId: ids.vpc, cidrBlock: '10.0.1.0/24' },
    });
    ids.subnet = subnet.body.id;

    const eni = await api('POST', '/v1/network-interfaces', {
      subnetId: ids.subnet,
      name: 'web-1',
      primaryIp: '10.0.1.5',
    });
    expect(eni.status).toBe(201);
    ids.eni = eni.body.id;
    expect(eni.body).toMatchObject({
      id: expect.stringMatching(/^eni-/),
      vpcId: ids.vpc,
      subnetId: ids.subnet,
      accountId: ids.account,
      primaryIp: '10.0.1.5',
      name: 'web-1',
    });
    expect(await api('GET', `/v1/network-interfaces/${ids.eni}`)).toEqual({ status: 200, body: eni.body });

    const logset = await api('POST', '/v1/logsets', { name: 'prod' });
    expect(logset).toMatchObject({ status: 201, body: { id: expect.stringMatching(/^logset-/), retentionDays: 7 } });
    ids.logset = logset.body.id;

    const topic = await api('POST', '/v1/log-topics', { logsetId: ids.logset, name: 'web-flows' });
    expect(topic).toMatchObject({ status: 201, body: { id: expect.stringMatching(/^topic-/), format: 'json' } });
    ids.topic = topic.body.id;
    expect(topic.body.kafkaTopic).toBe(topics.logTopic(ids.topic));

    const flowLog = await api('POST', '/v1/flow-logs', {
      name: 'web',
      resourceType: 'NETWORKINTERFACE',
      resourceId: ids.eni,
      trafficType: 'ALL',
      logTopicId: ids.topic,
      tags: [{ key: 'team', value: 'net' }],
    });
    expect(flowLog).toMatchObject({
      status: 201,
      body: {
        id: expect.stringMatching(/^fl-/),
        enabled: true,
        revision: 1,
        aggregationInterval: 600,
        tags: [{ key: 'team', value: 'net' }],
        resourceId: ids.eni,
      },
    });
    ids.flowLog = flowLog.body.id;

    expect((await api('GET', '/v1/flow-logs')).body.items.map((f: { id: string }) => f.id)).toEqual([ids.flowLog]);
    expect((await api('GET', `/v1/flow-logs/${ids.flowLog}`)).body).toEqual(flowLog.body);
    for (const path of ['vpcs', 'subnets', 'network-interfaces', 'logsets', 'log-topics']) {
      expect((await api('GET', `/v1/${path}`)).body.items).toHaveLength(1);
    }
  });

  it('published the rule before answering', async () => {
    expect(await publishedRule(ids.flowLog)).toEqual({
      id: ids.flowLog,
      accountId: ids.account,
      name: 'web',
      resourceType: 'NETWORKINTERFACE',
      resourceId: ids.eni,
      trafficType: 'ALL',
      logTopicId: ids.topic,
      aggregationInterval: 600,
      enabled: true,
      revision: 1,
    });
  });

  it('republishes at start-up a rule whose publish a crash cut off', async () => {
    await db.pool.query(
      `INSERT INTO flow_logs (id, account_id, name, resource_type, resource_id, traffic_type, log_topic_id, aggregation_interval, revision)
       VALUES ('fl-crashed', $1, 'crashed', 'VPC', $2, 'REJECT', $3, 60, 4)`,
      [ids.account, ids.vpc, ids.topic],
    );
    await startAndStopAnother();
    expect(await publishedRule('fl-crashed')).toMatchObject({
      id: 'fl-crashed',
      resourceType: 'VPC',
      trafficType: 'REJECT',
      aggregationInterval: 60,
      revision: 4,
    });
    // The pool was the caller's: still open.
    await db.pool.query('DELETE FROM flow_logs WHERE id = $1', ['fl-crashed']);
  });

  it('tombstones at start-up what a crash left on the settings topics after its delete', async () => {
    // The rule deleted by the previous test (its row only: the tombstone never went), and a deleted
    // log topic's settings and ENI's binding, as a crash between delete and tombstone leaves them.
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: topics.logTopicSettings, messages: [{ key: 'topic-gone', value: '{}' }] });
    await producer.send({ topic: topics.inventory, messages: [{ key: `${ids.account}/eni-gone`, value: '{}' }] });
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    const live = (topic: string) => CompactedTopicReader.liveKeys(kafka, testLogger(), admin, topic, `${topic}.test`);
    expect(await live(topics.rules)).toContain('fl-crashed');

    await startAndStopAnother();
    const rules = await live(topics.rules);
    const settings = await live(topics.logTopicSettings);
    const inventory = await live(topics.inventory);
    await admin.disconnect();
    expect([...rules]).toEqual([ids.flowLog]);
    expect([...settings]).toEqual([ids.topic]);
    expect(inventory.has(`${ids.account}/eni-gone`)).toBe(false);
  });

  it("created the log topic's Kafka topic", async () => {
    const admin = kafka.admin();
    await admin.connect();
    const {
      topics: [meta],
    } = await admin.fetchTopicMetadata({ topics: [topics.logTopic(ids.topic)] });
    await admin.disconnect();
    expect(meta.partitions).toHaveLength(2);
  });

  it('explains bad input with the field and the reason', async () => {
    const bad = async (path: string, body: unknown, field: string) => {
      const res = await api('POST', path, body);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body).toMatchObject({ error: 'Bad Request', message: expect.stringContaining(`${field}: `) });
      expect(res.body.issues.map((i: { path: string }) => i.path)).toContain(field);
    };
    await bad('/v1/vpcs', { name: 'x', cidrBlock: '10.0.0.0/33' }, 'cidrBlock');
    await bad('/v1/vpcs', { cidrBlock: '10.0.0.0/16' }, 'name');
    await bad('/v1/subnets', { vpcId: ids.vpc, name: 's', cidrBlock: '10.1.0.0/24' }, 'cidrBlock');
    await bad('/v1/network-interfaces', { subnetId: ids.subnet, name: 'e', primaryIp: '10.0.2.5' }, 'primaryIp');
    await bad(
      '/v1/flow-logs',
      {
        name: 'f',
        resourceType: 'VPC',
        resourceId: ids.vpc,
        trafficType: 'ALL',
        logTopicId: ids.topic,
        aggregationInterval: 7,
      },
      'aggregationInterval',
    );
    expect(await api('POST', '/v1/vpcs', '{"name": ')).toMatchObject({ status: 400, body: { error: 'Bad Request' } });
    expect(await api('GET', `/v1/log-topics/${ids.topic}/records?q=port%3D80`)).toMatchObject({
      status: 400,
      body: { message: expect.stringContaining('q: ') },
    });
  });

  it('keeps accounts apart', async () => {
    await addAccount('999999999999', { [OTHER_KEY]: 'admin', [READONLY_KEY]: 'readonly' });
    expect(await api('GET', `/v1/network-interfaces/${ids.eni}`, undefined, OTHER_KEY)).toMatchObject({
      status: 404,
      body: { error: 'Not Found' },
    });
    expect(await api('GET', '/v1/network-interfaces', undefined, OTHER_KEY)).toEqual({
      status: 200,
      body: { items: [], nextCursor: null },
    });
    expect(await api('GET', `/v1/log-topics/${ids.topic}/records`, undefined, OTHER_KEY)).toMatchObject({
      status: 404,
    });
    const subnet = await api('POST', '/v1/subnets', { vpcId: ids.vpc, name: 's', cidrBlock: '10.0.9.0/24' }, OTHER_KEY);
    expect(subnet).toMatchObject({ status: 404, body: { message: `vpcId: VPC ${ids.vpc} not found` } });
    expect(await api('POST', '/v1/vpcs', { name: 'ro', cidrBlock: '10.0.0.0/16' }, READONLY_KEY)).toMatchObject({
      status: 403,
    });
    expect((await api('GET', '/v1/vpcs', undefined, READONLY_KEY)).status).toBe(200);
  });

  it("serves the field table at GET /v1/fields: every record field, the flow key and the console's columns", async () => {
    const res = await api('GET', '/v1/fields');
    expect(res.status).toBe(200);
    const fields = (res.body as FieldList).fields;
    expect(fields.map((f) => f.name)).toEqual(FIELDS.map((f) => f.name));
    expect(fields.filter((f) => f.flowKey).map((f) => f.key)).toEqual([
      'interfaceId',
      'srcaddr',
      'dstaddr',
      'srcport',
      'dstport',
      'protocol',
      'action',
    ]);
    expect(fields.find((f) => f.name === 'log-status')).toMatchObject({
      key: 'logStatus',
      absent: 'kept',
      values: ['OK', 'NODATA', 'SKIPDATA'],
    });
    const columns = fields.filter((f) => f.console).sort((a, b) => a.console!.rank - b.console!.rank);
    expect(columns.slice(0, 3).map((f) => [f.name, f.console!.display, f.console!.sort])).toEqual([
      ['start', 'time', 'start'],
      ['end', 'time', undefined],
      ['interface-id', 'text', undefined],
    ]);
    expect(fields.find((f) => f.name === 'pkt-srcaddr')).toMatchObject({
      key: 'pktSrcaddr',
      kind: 'address',
      flowKey: false,
      console: { unlessSameAs: 'srcaddr' },
    });
    expect((await api('GET', '/v1/fields', undefined, null)).status).toBe(401);
  });

  it('searches the records of a log topic by time and address, page by page', async () => {
    const base = 1_700_000_400; // a multiple of 600
    const record = (windowStart: number, srcaddr: string, dstaddr: string): FlowRecord => {
      return makeRecord({
        accountId: ids.account,
        interfaceId: ids.eni,
        srcaddr,
        dstaddr,
        srcport: 443,
        dstport: 50_000,
        start: windowStart + 1,
        end: windowStart + 2,
        vpcId: ids.vpc,
        subnetId: ids.subnet,
        tcpFlags: 18,
        windowStart,
        windowEnd: windowStart + 600,
        flowLogId: ids.flowLog,
        logTopicId: ids.topic,
      });
    };
    const records = [
      record(base, '10.0.1.5', '192.0.2.1'),
      record(base, '10.0.1.5', '192.0.2.2'),
      record(base + 600, '192.0.2.1', '10.0.1.5'),
      record(base + 600, '10.0.1.5', '198.51.100.7'),
      record(base + 1200, '10.0.1.5', '192.0.2.1'),
    ];
    await insertRecords(db, records);
    const search = async (query: string) => {
      const res = await api('GET', `/v1/log-topics/${ids.topic}/records?${query}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as { records: FlowRecord[]; nextCursor: string | null };
    };
    const byOrder = (rs: FlowRecord[]) =>
      [...rs].sort((a, b) => a.windowStart - b.windowStart || a.recordId.localeCompare(b.recordId));

    // All windows overlapping [base + 1, base + 1800): the first window overlaps by all but its first second.
    const all = await search(`from=${base + 1}&to=${base + 1800}`);
    expect(all).toEqual({ records: byOrder(records), nextCursor: null });

    // 192.0.2.1 as source or destination, in the first two windows only.
    const byIp = await search(`from=${base}&to=${base + 1200}&q=192.0.2.1`);
    expect(byIp.records).toEqual(byOrder([records[0], records[2]]));

    // Pages of two, following the cursor, give every record once in order.
    const pages: FlowRecord[][] = [];
    let cursor: string | null = '';
    do {
      const page = await search(`from=${base}&to=${base + 1800}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(page.records);
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(byOrder(records));

    expect((await search(`from=${base + 1800}&to=${base + 3600}`)).records).toEqual([]);
  });
});
