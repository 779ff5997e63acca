/**
 * The whole pipeline on the real broker and database: resources through the API, a capture replayed
 * by the agent's code, records back from the search API and from the log topic's Kafka topic,
 * equal to what the offline `flowlogs records` path computes for the same capture and interval.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayCapture } from '@flowlogs/capture-agent';
import { buildEthernetFrame, buildIpPacket, buildTunnelPacket, writePcap } from '@flowlogs/packet';
import { demoCapture, DEMO_NETWORK } from '@flowlogs/packet/demo-capture';
import { FlowRecord, topicNames } from '@flowlogs/contracts';
import { recordsFromCapture } from '@flowlogs/flow';
import { createKafka, reliableProducer } from '@flowlogs/kafka';
import { kafkaBrokers } from '@flowlogs/testkit';
import { flowView, startStack, until, type Stack } from './support/stack.js';

const START = 1_700_000_000; // a fixed past date: every window is closed by the idle timer once input stops

/**
 * The demo capture, then GRE packets from the ENI after it: one flow (outer addresses), whose first packet
 * carries IPv4 and a later one IPv6, and an IPv6-in-IPv4 packet to another peer.
 */
function captureWithTunnels(): Buffer {
  const eni = DEMO_NETWORK.eniIp;
  const v4 = buildIpPacket({
    src: '192.168.50.1',
    dst: '192.168.60.1',
    protocol: 'udp',
    srcPort: 4789,
    dstPort: 4789,
    payloadLength: 20,
  });
  const v6 = buildIpPacket({ src: 'fd00:50::1', dst: 'fd00:60::1', protocol: 'icmp', payloadLength: 8 });
  const frames = [
    { tsSec: START + 18, frame: buildEthernetFrame(buildTunnelPacket({ src: eni, dst: '198.51.100.77' }, v4, 'gre')) },
    {
      tsSec: START + 18,
      tsNanos: 5e8,
      frame: buildEthernetFrame(buildTunnelPacket({ src: eni, dst: '198.51.100.77' }, v6, 'gre')),
    },
    { tsSec: START + 19, frame: buildEthernetFrame(buildTunnelPacket({ src: eni, dst: '198.51.100.78' }, v6, 'ip')) },
  ];
  return Buffer.concat([demoCapture(START), writePcap(frames).subarray(24)]); // the records without a second file header
}

describe('pipeline end to end', () => {
  let stack: Stack;
  let api: Stack['api'];
  let prefix: string;
  let log: Stack['log'];

  beforeAll(async () => {
    stack = await startStack({ FLOWLOGS_IDLE_CLOSE_MS: '500' });
    ({ api, prefix, log } = stack);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('delivers the records of a replayed capture to search and to the log topic, equal to the offline path', async () => {
    const vpc = await api('POST', '/v1/vpcs', { name: 'prod', cidrBlock: DEMO_NETWORK.vpcCidr });
    expect(vpc.status).toBe(201);
    expect(vpc.body.id).toMatch(/^vpc-/);
    const subnet = await api('POST', '/v1/subnets', {
      vpcId: vpc.body.id,
      name: 'web',
      cidrBlock: DEMO_NETWORK.subnetCidr,
    });
    expect(subnet.status).toBe(201);
    const eni = await api('POST', '/v1/network-interfaces', {
      subnetId: subnet.body.id,
      name: 'cvm-a',
      primaryIp: DEMO_NETWORK.eniIp,
    });
    expect(eni.status).toBe(201);
    expect(eni.body).toMatchObject({ vpcId: vpc.body.id, subnetId: subnet.body.id });
    const logset = await api('POST', '/v1/logsets', { name: 'audit' });
    const topic = await api('POST', '/v1/log-topics', { logsetId: logset.body.id, name: 'flows' });
    expect(topic.status).toBe(201);
    expect(topic.body.kafkaTopic).toBe(topicNames(prefix).logTopic(topic.body.id));
    const bad = await api('POST', '/v1/flow-logs', {
      name: 'x',
      resourceType: 'NETWORKINTERFACE',
      resourceId: eni.body.id,
      trafficType: 'ALL',
      logTopicId: topic.body.id,
      aggregationInterval: 7,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/aggregationInterval/);
    const flowLog = await api('POST', '/v1/flow-logs', {
      name: 'cvm-a-all',
      resourceType: 'NETWORKINTERFACE',
      resourceId: eni.body.id,
      trafficType: 'ALL',
      logTopicId: topic.body.id,
      aggregationInterval: 10,
    });
    expect(flowLog.status).toBe(201);
    expect(flowLog.body.enabled).toBe(true);

    const dir = mkdtempSync(join(tmpdir(), 'flowlogs-pipeline-'));
    const capture = join(dir, 'capture.pcap');
    writeFileSync(capture, captureWithTunnels());
    const eniContext = {
      eniId: eni.body.id,
      accountId: eni.body.accountId,
      vpcId: vpc.body.id,
      subnetId: subnet.body.id,
    };
    const offline = (await recordsFromCapture(capture, { interval: 10, eni: eniContext, eniIp: DEMO_NETWORK.eniIp }))
      .records;
    expect(offline.length).toBeGreaterThan(10);

    const producer = reliableProducer(createKafka(kafkaBrokers(), 'pipeline-test-agent', log));
    await producer.connect();
    await replayCapture({
      producer,
      topic: topicNames(prefix).packets,
      log,
      eni: eniContext,
      eniIp: DEMO_NETWORK.eniIp,
      agentId: 'test',
      secret: await stack.bindAgent(eniContext.eniId, 'test'),
      path: capture,
      speed: 'max',
      rebase: false,
      batchPackets: 64,
    });
    await producer.disconnect();

    // Search: every record, page by page, over the capture's time range.
    const searched = await until('records in the search API', async () => {
      const all: FlowRecord[] = [];
      let cursor: string | null = null;
      do {
        const qs = new URLSearchParams({
          from: String(START - 600),
          to: String(START + 600),
          limit: '7',
          ...(cursor ? { cursor } : {}),
        });
        const res = await api('GET', `/v1/log-topics/${topic.body.id}/records?${qs}`);
        expect(res.status).toBe(200);
        all.push(...res.body.records);
        cursor = res.body.nextCursor;
      } while (cursor);
      return all.length >= offline.length ? all : undefined;
    });
    expect(searched.map(flowView).sort()).toEqual(offline.map(flowView).sort());
    for (const r of searched) {
      expect(FlowRecord.parse(r)).toMatchObject({
        flowLogId: flowLog.body.id,
        logTopicId: topic.body.id,
        accountId: eni.body.accountId,
        vpcId: vpc.body.id,
      });
    }

    // The tunnels: outer addresses in srcaddr/dstaddr, the first packet's innermost in pkt-srcaddr/pkt-dstaddr.
    const tunnels = searched
      .filter((r) => r.dstaddr?.startsWith('198.51.100.'))
      .sort((a, b) => (a.dstaddr! < b.dstaddr! ? -1 : 1));
    expect(tunnels.map((r) => [r.srcaddr, r.dstaddr, r.protocol, r.packets, r.pktSrcaddr, r.pktDstaddr])).toEqual([
      [DEMO_NETWORK.eniIp, '198.51.100.77', 47, 2, '192.168.50.1', '192.168.60.1'],
      [DEMO_NETWORK.eniIp, '198.51.100.78', 41, 1, 'fd00:50::1', 'fd00:60::1'],
    ]);
    const found = await api(
      'GET',
      `/v1/log-topics/${topic.body.id}/records?from=${START - 600}&to=${START + 600}&q=${encodeURIComponent('pkt-dstaddr:fd00::/8')}`,
    );
    expect(found.body.records.map((r: FlowRecord) => r.dstaddr)).toEqual(['198.51.100.78']);
    const plain = searched.find((r) => r.protocol === 17 && r.dstport === 53)!;
    expect([plain.pktSrcaddr, plain.pktDstaddr]).toEqual([plain.srcaddr, plain.dstaddr]);

    // The ping of the seed scenario: 9 echo requests of 84 bytes, as one record per 10 s window.
    const byPeer = await api(
      'GET',
      `/v1/log-topics/${topic.body.id}/records?from=${START - 600}&to=${START + 600}&q=10.0.1.20&limit=100`,
    );
    const pings = byPeer.body.records.filter((r: FlowRecord) => r.srcaddr === DEMO_NETWORK.eniIp && r.protocol === 1);
    expect(pings.reduce((n: number, r: FlowRecord) => n + (r.packets ?? 0), 0)).toBe(9);
    expect(pings.reduce((n: number, r: FlowRecord) => n + (r.bytes ?? 0), 0)).toBe(756);
    expect(byPeer.body.records.every((r: FlowRecord) => r.srcaddr === '10.0.1.20' || r.dstaddr === '10.0.1.20')).toBe(
      true,
    );

    // The log topic's Kafka topic, read_committed: the same records, each once.
    const consumer = createKafka(kafkaBrokers(), 'pipeline-test-reader', log).consumer({
      groupId: `${prefix}.reader`,
      readUncommitted: false,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: topic.body.kafkaTopic, fromBeginning: true });
    const streamed: FlowRecord[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        streamed.push(JSON.parse(message.value!.toString()));
      },
    });
    await until('records on the log topic', async () => (streamed.length >= offline.length ? true : undefined));
    await new Promise((r) => setTimeout(r, 1000)); // a duplicate would arrive within this
    await consumer.disconnect();
    expect(streamed.map(flowView).sort()).toEqual(offline.map(flowView).sort());
    expect(new Set(streamed.map((r) => r.recordId)).size).toBe(streamed.length);

    // All processed: no lag, the transaction markers after the records included.
    const lags = await until('no lag', async () => {
      const { body } = await api('GET', '/v1/pipeline/health');
      return body.consumerGroups.every((g: { lag: number }) => g.lag === 0) ? body.consumerGroups : undefined;
    });
    expect(lags.map((g: { group: string }) => g.group)).toEqual([`${prefix}.aggregator`, `${prefix}.publisher`]);
  });
});
