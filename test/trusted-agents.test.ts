/**
 * Trusted agents: an agent key may only register its account's ENIs; a packet batch is aggregated
 * only when the agent its ENI is bound to signed it, and its records take the account, VPC and
 * subnet from the binding. Batches written straight to Kafka — for another account's ENI, unsigned,
 * signed by another agent or with the wrong key, for an ENI bound to no agent — go to the DLQ with
 * their reason, counted and logged, and add nothing to any record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { pino } from 'pino';
import {
  SIGNATURE_HEADER,
  encodePacketBatch,
  newPacketEvent,
  signBatch,
  topicNames,
  type PacketBatchHeader,
} from '@flowlogs/contracts';
import { createKafka, reliableProducer } from '@flowlogs/kafka';
import { kafkaBrokers } from '@flowlogs/testkit';
import { startStack, until, type Stack } from './support/stack.js';

const T0 = 1_700_000_000;

/** A batch of `n` ICMP packets of 84 bytes from `src` to `dst` at T0 + 1 s, as the header says. */
function batch(
  header: Omit<PacketBatchHeader, 'sequence' | 'eventTime' | 'live' | 'ended' | 'stats'>,
  n: number,
  src: number[],
  dst: number[],
): Buffer {
  const packets = Array.from({ length: n }, () => {
    const p = newPacketEvent();
    p.ts = T0 + 1;
    p.protocol = 1;
    p.bytes = 84;
    p.src.set(src);
    p.dst.set(dst);
    p.direction = 'egress';
    return p;
  });
  return encodePacketBatch(
    {
      ...header,
      sequence: 0,
      eventTime: T0 + 2,
      live: false,
      ended: true,
      stats: { received: n, dropped: 0, skipped: {}, dropsBySecond: [] },
    },
    packets,
  );
}

describe('trusted agents', () => {
  let stack: Stack;
  const logLines: Array<Record<string, unknown>> = [];
  const a = {
    key: '',
    agentKey: '',
    accountId: '',
    vpcId: '',
    subnetId: '',
    eniId: 'eni-hosta1',
    logTopicId: '',
    flowLogId: '',
  };
  const b = { key: '', accountId: '', vpcId: '', subnetId: '', eniId: 'eni-hostb1', logTopicId: '', flowLogId: '' };

  beforeAll(async () => {
    const log = pino(
      { level: 'warn' },
      {
        write: (line: string) => {
          logLines.push(JSON.parse(line));
        },
      },
    );
    stack = await startStack({ FLOWLOGS_IDLE_CLOSE_MS: '500' }, log);
    a.key = stack.env.FLOWLOGS_API_KEY;
    const other = await stack.api('POST', '/v1/accounts', { name: 'tenant-b' });
    b.key = other.body.adminKey;
    for (const [who, cidr] of [
      [a, '10.30.0.0/16'],
      [b, '10.40.0.0/16'],
    ] as const) {
      const api = (method: string, path: string, body?: unknown) => stack.api(method, path, body, who.key);
      who.accountId = (await api('GET', '/v1/account')).body.id;
      who.vpcId = (await api('POST', '/v1/vpcs', { name: 'v', cidrBlock: cidr })).body.id;
      who.subnetId = (
        await api('POST', '/v1/subnets', { vpcId: who.vpcId, name: 's', cidrBlock: cidr.replace('/16', '/24') })
      ).body.id;
      const logset = (await api('POST', '/v1/logsets', { name: 'l' })).body.id;
      who.logTopicId = (await api('POST', '/v1/log-topics', { logsetId: logset, name: 't' })).body.id;
    }
    a.agentKey = (await stack.api('POST', '/v1/api-keys', { role: 'agent', name: 'host-a' })).body.key;
  }, 60_000);

  afterAll(async () => stack?.stop());

  it("an agent key registers and binds its account's ENIs, and may do nothing else", async () => {
    const agent = (method: string, path: string, body?: unknown) => stack.api(method, path, body, a.agentKey);
    expect(
      (
        await agent('PUT', `/v1/network-interfaces/${a.eniId}`, {
          subnetId: a.subnetId,
          name: 'a1',
          primaryIp: '10.30.0.5',
          agentId: 'host-a',
        })
      ).status,
    ).toBe(201);
    const bound = await agent('POST', `/v1/network-interfaces/${a.eniId}/agent`, { agentId: 'host-a' });
    expect(bound.status).toBe(200);
    expect(bound.body).toEqual({
      eniId: a.eniId,
      agentId: 'host-a',
      secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    // The same agent binding again keeps its secret.
    expect((await agent('POST', `/v1/network-interfaces/${a.eniId}/agent`, { agentId: 'host-a' })).body.secret).toBe(
      bound.body.secret,
    );
    expect((await agent('GET', '/v1/account')).body).toMatchObject({ id: a.accountId, role: 'agent' });
    expect((await agent('GET', `/v1/network-interfaces/${a.eniId}`)).status).toBe(200);
    const refused = [
      await agent('GET', '/v1/vpcs'),
      await agent('POST', '/v1/vpcs', { name: 'x', cidrBlock: '10.50.0.0/16' }),
      await agent('GET', '/v1/network-interfaces'),
      await agent('DELETE', `/v1/network-interfaces/${a.eniId}`),
      await agent('POST', '/v1/api-keys', { role: 'admin' }),
      await agent('GET', `/v1/log-topics/${a.logTopicId}/records`),
      await agent('POST', '/v1/flow-logs', {
        name: 'f',
        resourceType: 'VPC',
        resourceId: a.vpcId,
        trafficType: 'ALL',
        logTopicId: a.logTopicId,
        aggregationInterval: 60,
      }),
    ];
    for (const res of refused)
      expect(res).toMatchObject({
        status: 403,
        body: { message: "this API key is an agent key: it may only register its account's ENIs" },
      });
    // Another account's ENI is not found; a read-only key binds nothing.
    await stack.api(
      'PUT',
      `/v1/network-interfaces/${b.eniId}`,
      { subnetId: b.subnetId, name: 'b1', primaryIp: '10.40.0.5' },
      b.key,
    );
    expect((await agent('POST', `/v1/network-interfaces/${b.eniId}/agent`, { agentId: 'host-a' })).status).toBe(404);
    const readonly = (await stack.api('POST', '/v1/api-keys', { role: 'readonly' })).body.key;
    expect(
      (await stack.api('POST', `/v1/network-interfaces/${a.eniId}/agent`, { agentId: 'host-a' }, readonly)).status,
    ).toBe(403);
  });

  it("forged batches go to the DLQ with their reason, counted and logged; only the bound agent's are aggregated, attributed from the binding", async () => {
    const secretA = (
      await stack.api('POST', `/v1/network-interfaces/${a.eniId}/agent`, { agentId: 'host-a' }, a.agentKey)
    ).body.secret;
    const secretB = (await stack.api('POST', `/v1/network-interfaces/${b.eniId}/agent`, { agentId: 'host-b' }, b.key))
      .body.secret;
    for (const who of [a, b]) {
      const api = (method: string, path: string, body?: unknown) => stack.api(method, path, body, who.key);
      who.flowLogId = (
        await api('POST', '/v1/flow-logs', {
          name: 'all',
          resourceType: 'NETWORKINTERFACE',
          resourceId: who.eniId,
          trafficType: 'ALL',
          logTopicId: who.logTopicId,
          aggregationInterval: 60,
        })
      ).body.id;
    }
    const topics = topicNames(stack.prefix);
    const forB = { eniId: b.eniId, accountId: b.accountId, vpcId: b.vpcId, subnetId: b.subnetId };
    const bIp = [10, 40, 0, 5];
    const forged = batch({ ...forB, agentId: 'host-a' }, 7, bIp, [1, 1, 1, 1]);
    const wrongKey = batch({ ...forB, agentId: 'host-b' }, 5, bIp, [1, 1, 1, 1]);
    const unbound = batch(
      { eniId: 'eni-nobody', accountId: b.accountId, vpcId: b.vpcId, subnetId: b.subnetId, agentId: 'host-b' },
      3,
      bIp,
      [1, 1, 1, 1],
    );
    const unsigned = batch({ ...forB, agentId: 'host-b' }, 4, bIp, [1, 1, 1, 1]);
    const legitB = batch({ ...forB, agentId: 'host-b' }, 9, bIp, [8, 8, 8, 8]);
    // Host A's own ENI, its header claiming another VPC and subnet: the records say the binding's.
    const legitA = batch(
      { eniId: a.eniId, accountId: a.accountId, vpcId: 'vpc-forged', subnetId: 'subnet-forged', agentId: 'host-a' },
      2,
      [10, 30, 0, 5],
      [9, 9, 9, 9],
    );
    const producer = reliableProducer(createKafka(kafkaBrokers(), 'forger', stack.log));
    await producer.connect();
    await producer.send({
      topic: topics.packets,
      acks: -1,
      messages: [
        { key: b.eniId, value: forged, headers: { [SIGNATURE_HEADER]: signBatch(secretA, forged) } },
        { key: b.eniId, value: wrongKey, headers: { [SIGNATURE_HEADER]: signBatch(secretA, wrongKey) } },
        { key: 'eni-nobody', value: unbound, headers: { [SIGNATURE_HEADER]: signBatch(secretB, unbound) } },
        { key: b.eniId, value: unsigned },
        { key: b.eniId, value: legitB, headers: { [SIGNATURE_HEADER]: signBatch(secretB, legitB) } },
        { key: a.eniId, value: legitA, headers: { [SIGNATURE_HEADER]: signBatch(secretA, legitA) } },
      ],
    });
    await producer.disconnect();

    const kafka = createKafka(kafkaBrokers(), 'dlq-reader', stack.log);
    const consumer = kafka.consumer({ groupId: `${stack.prefix}.dlq-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.dlq, fromBeginning: true });
    const dead: KafkaMessage[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        dead.push(message);
      },
    });
    await until('four dead letters', async () => (dead.length >= 4 ? true : undefined));
    await consumer.disconnect();
    const byReason = Object.fromEntries(dead.map((m) => [m.headers!['flowlogs-reason']!.toString(), m]));
    expect(Object.keys(byReason).sort()).toEqual(['bad-signature', 'other-agent', 'unbound', 'unsigned']);
    expect(byReason['other-agent'].value).toEqual(forged);
    expect(byReason['other-agent'].headers!['flowlogs-error']!.toString()).toBe(
      `untrusted packet batch: ENI ${b.eniId} is bound to agent host-b, not host-a`,
    );
    expect(byReason['bad-signature'].headers!['flowlogs-error']!.toString()).toBe(
      `untrusted packet batch: the batch for ENI ${b.eniId} is not signed with agent host-b's key`,
    );
    expect(byReason.unbound.headers!['flowlogs-error']!.toString()).toBe(
      `untrusted packet batch: ENI eni-nobody of account ${b.accountId} is not bound to any agent`,
    );
    expect(byReason.unsigned.value).toEqual(unsigned);
    for (const m of dead) expect(m.headers!['flowlogs-source-topic']!.toString()).toBe(topics.packets);

    const metric = await stack.registries.aggregator
      .getSingleMetric('flowlogs_aggregator_untrusted_batches_total')
      ?.get();
    expect(Object.fromEntries(metric!.values.map((v) => [v.labels.reason, v.value]))).toEqual({
      'other-agent': 1,
      'bad-signature': 1,
      unbound: 1,
      unsigned: 1,
    });
    const warned = logLines.filter(
      (l) => typeof l.msg === 'string' && (l.msg as string).startsWith('untrusted packet batch'),
    );
    // One warning each, naming the claimed agent and ENI (partitions interleave: sorted by reason).
    expect(warned.map((l) => [l.reason, l.level, l.agent, l.eni]).sort()).toEqual([
      ['bad-signature', 40, 'host-b', b.eniId],
      ['other-agent', 40, 'host-a', b.eniId],
      ['unbound', 40, 'host-b', 'eni-nobody'],
      ['unsigned', 40, 'host-b', b.eniId],
    ]);

    // Only the bound agents' batches made records: B's 9 packets, A's 2 packets under A's own VPC and subnet.
    const rows = await until("both accounts' records", async () => {
      const { rows: found } = await stack.db.pool.query(
        `SELECT account_id, interface_id, vpc_id, subnet_id, host(dstaddr) AS dst, packets, bytes
         FROM flow_records WHERE flow_log_id = ANY($1) AND log_status = 'OK' ORDER BY account_id`,
        [[a.flowLogId, b.flowLogId]],
      );
      return found.length >= 2 ? found : undefined;
    });
    expect(rows).toEqual(
      [
        {
          account_id: a.accountId,
          interface_id: a.eniId,
          vpc_id: a.vpcId,
          subnet_id: a.subnetId,
          dst: '9.9.9.9',
          packets: 2,
          bytes: 168,
        },
        {
          account_id: b.accountId,
          interface_id: b.eniId,
          vpc_id: b.vpcId,
          subnet_id: b.subnetId,
          dst: '8.8.8.8',
          packets: 9,
          bytes: 756,
        },
      ].sort((x, y) => x.account_id.localeCompare(y.account_id)),
    );
  });

  it("takes no more batches for a deleted ENI: its binding's tombstone follows the delete", async () => {
    const api = (method: string, path: string) => stack.api(method, path, undefined, a.key);
    expect((await api('DELETE', `/v1/flow-logs/${a.flowLogId}`)).status).toBe(204);
    expect((await api('DELETE', `/v1/network-interfaces/${a.eniId}`)).status).toBe(204);
    const { rows } = await stack.db.pool.query('SELECT secret FROM agents WHERE account_id = $1 AND agent_id = $2', [
      a.accountId,
      'host-a',
    ]);
    const late = batch(
      { eniId: a.eniId, accountId: a.accountId, vpcId: a.vpcId, subnetId: a.subnetId, agentId: 'host-a' },
      6,
      [10, 30, 0, 5],
      [9, 9, 9, 9],
    );
    const topics = topicNames(stack.prefix);
    const kafka = createKafka(kafkaBrokers(), 'deleted-eni', stack.log);
    const producer = reliableProducer(kafka);
    await producer.connect();
    await producer.send({
      topic: topics.packets,
      acks: -1,
      messages: [{ key: a.eniId, value: late, headers: { [SIGNATURE_HEADER]: signBatch(rows[0].secret, late) } }],
    });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `${stack.prefix}.dlq-reader-deleted` });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.dlq, fromBeginning: true });
    const dead: KafkaMessage[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.value?.equals(late)) dead.push(message);
      },
    });
    await until("the deleted ENI's batch in the DLQ", async () => (dead.length ? true : undefined));
    await consumer.disconnect();
    expect(dead[0].headers!['flowlogs-error']!.toString()).toBe(
      `untrusted packet batch: ENI ${a.eniId} of account ${a.accountId} is not bound to any agent`,
    );
  });
});
