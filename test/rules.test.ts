/**
 * Rule changes through the API reach the running aggregator before the API answers: packets
 * produced after a change are aggregated under the changed rule. Scopes ENI, subnet and VPC.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayCapture } from '@flowlogs/capture-agent';
import { DEMO_NETWORK, demoCapture } from '@flowlogs/packet/demo-capture';
import { topicNames } from '@flowlogs/contracts';
import { recordsFromCapture, type EniContext } from '@flowlogs/flow';
import { createKafka, reliableProducer } from '@flowlogs/kafka';
import { kafkaBrokers } from '@flowlogs/testkit';
import { startStack, until, type Stack } from './support/stack.js';

describe('rule changes', () => {
  let stack: Stack;
  const dir = mkdtempSync(join(tmpdir(), 'flowlogs-rules-'));

  beforeAll(async () => {
    stack = await startStack({ FLOWLOGS_IDLE_CLOSE_MS: '500' });
  });
  afterAll(async () => stack?.stop());

  it('follow create, disable, enable, modify and delete', async () => {
    const { api } = stack;
    const vpc = (await api('POST', '/v1/vpcs', { name: 'v', cidrBlock: DEMO_NETWORK.vpcCidr })).body;
    const subnet = (await api('POST', '/v1/subnets', { vpcId: vpc.id, name: 's', cidrBlock: DEMO_NETWORK.subnetCidr }))
      .body;
    const eni = (
      await api('POST', '/v1/network-interfaces', { subnetId: subnet.id, name: 'e', primaryIp: DEMO_NETWORK.eniIp })
    ).body;
    const logset = (await api('POST', '/v1/logsets', { name: 'l' })).body;
    const topic = (await api('POST', '/v1/log-topics', { logsetId: logset.id, name: 't' })).body;
    const create = async (name: string, resourceType: string, resourceId: string) => {
      const res = await api('POST', '/v1/flow-logs', {
        name,
        resourceType,
        resourceId,
        trafficType: 'ALL',
        logTopicId: topic.id,
        aggregationInterval: 10,
      });
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    const onEni = await create('eni', 'NETWORKINTERFACE', eni.id);
    const onSubnet = await create('subnet', 'SUBNET', subnet.id);
    const onVpc = await create('vpc', 'VPC', vpc.id); // unchanged throughout: tells when a round is done

    const context: EniContext = { eniId: eni.id, accountId: eni.accountId, vpcId: vpc.id, subnetId: subnet.id };
    const secret = await stack.bindAgent(eni.id, 't');
    const producer = reliableProducer(createKafka(kafkaBrokers(), 'rules-test-agent', stack.log));
    await producer.connect();
    /** Replays the demo traffic at `start`; answers how many records each flow log got for it. */
    const round = async (start: number) => {
      const path = join(dir, `${start}.pcap`);
      writeFileSync(path, demoCapture(start));
      const offline = (await recordsFromCapture(path, { interval: 10, eni: context })).records;
      const expected = offline.length;
      const windows = new Set(offline.map((r) => r.windowStart)).size;
      await replayCapture({
        producer,
        topic: topicNames(stack.prefix).packets,
        log: stack.log,
        eni: context,
        agentId: 't',
        secret,
        path,
        speed: 'max',
        rebase: false,
        batchPackets: 50,
      });
      const count = async (flowLogId: string, status = 'OK') =>
        Number(
          (
            await stack.db.pool.query(
              'SELECT count(*) AS n FROM flow_records WHERE flow_log_id = $1 AND log_status = $4 AND window_start >= $2 AND window_start < $3',
              [flowLogId, start - 10, start + 100, status],
            )
          ).rows[0].n,
        );
      await until("the VPC flow log's records", async () => ((await count(onVpc)) >= expected ? true : undefined));
      await new Promise((r) => setTimeout(r, 1000)); // anything else would be published by now
      return {
        expected,
        windows,
        eni: await count(onEni),
        subnet: await count(onSubnet),
        vpc: await count(onVpc),
        subnetNodata: await count(onSubnet, 'NODATA'),
      };
    };

    const first = await round(1_700_000_000);
    expect(first).toEqual({
      expected: first.expected,
      windows: first.windows,
      eni: first.expected,
      subnet: first.expected,
      vpc: first.expected,
      subnetNodata: 0,
    });

    expect((await api('POST', `/v1/flow-logs/${onEni}/disable`)).body).toMatchObject({ enabled: false, revision: 2 });
    const disabled = await round(1_700_001_000);
    expect(disabled).toMatchObject({ eni: 0, subnet: disabled.expected });

    expect((await api('POST', `/v1/flow-logs/${onEni}/enable`)).body).toMatchObject({ enabled: true, revision: 3 });
    const modified = await api('PATCH', `/v1/flow-logs/${onSubnet}`, { trafficType: 'REJECT', name: 'subnet-rejects' });
    expect(modified.body).toMatchObject({ trafficType: 'REJECT', name: 'subnet-rejects', revision: 2 });
    const reenabled = await round(1_700_002_000);
    // The demo traffic is all accepted: the REJECT flow log sees a live ENI without its kind of traffic.
    expect(reenabled).toMatchObject({ eni: reenabled.expected, subnet: 0, subnetNodata: reenabled.windows });

    expect((await api('PATCH', `/v1/flow-logs/${onEni}`, {})).status).toBe(400);
    expect((await api('DELETE', `/v1/flow-logs/${onEni}`)).status).toBe(204);
    expect((await api('GET', `/v1/flow-logs/${onEni}`)).status).toBe(404);
    expect((await api('DELETE', `/v1/flow-logs/${onEni}`)).status).toBe(404);
    const deleted = await round(1_700_003_000);
    expect(deleted).toMatchObject({ eni: 0, subnet: 0, vpc: deleted.expected });
    await producer.disconnect();
  });
});
