/**
 * Event time per ENI: two ENIs whose ids hash to the same partition of the packets topic, one live
 * (the agent's EniStream on a live source that hands its packets over as NFLOG does, in batches up
 * to a second behind the clock) and one replaying a capture from 2001 while the live one runs. Each
 * is windowed by its own clock: both get exact records, neither a SKIPDATA, at the default lateness.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchQueue,
  EniStream,
  NFLOG_LATENESS_S,
  replayCapture,
  sendQueued,
  type CaptureSource,
} from '@flowlogs/capture-agent';
import { type FlowRecord, topicNames } from '@flowlogs/contracts';
import { recordsFromCapture } from '@flowlogs/flow';
import { Partitioners, createKafka, reliableProducer } from '@flowlogs/kafka';
import { buildEthernetFrame, buildIpPacket, CaptureParser, writePcap } from '@flowlogs/packet';
import { demoCapture, DEMO_NETWORK } from '@flowlogs/packet/demo-capture';
import { kafkaBrokers } from '@flowlogs/testkit';
import { startStack, until, type Stack } from './support/stack.js';

const OLD_START = 1_000_000_000; // September 2001
const PARTITIONS = 4;
const LIVE_IP = '10.0.1.30';

/** Two ENI ids the producer's partitioner puts on the same partition of the packets topic. */
function idsOnOnePartition(): [string, string] {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  const partitionOf = (key: string) =>
    partitioner({ topic: 'packets', partitionMetadata, message: { key, value: null } });
  const first = `eni-${randomBytes(4).toString('hex')}`;
  for (;;) {
    const second = `eni-${randomBytes(4).toString('hex')}`;
    if (partitionOf(second) === partitionOf(first)) return [first, second];
  }
}

/**
 * A live source as NFLOG is one: an ICMP echo of 84 bytes from the ENI every 100 ms, stamped when
 * sent, handed over in a batch once a second (the kernel's batches), so up to a second behind the
 * clock when it comes; until stopped.
 */
function nflogLikeSource(sent: { packets: number }): CaptureSource {
  const frame = buildEthernetFrame(
    buildIpPacket({ src: LIVE_IP, dst: '10.0.1.20', protocol: 'icmp', payloadLength: 56 }),
  );
  return {
    name: 'pings in NFLOG batches',
    live: true,
    lateness: NFLOG_LATENESS_S,
    total: undefined,
    takeKernelDrops: () => 0,
    async *chunks(signal) {
      while (!signal.aborted) {
        const stamps: number[] = [];
        for (const due = Date.now() + 1000; Date.now() < due && !signal.aborted; ) {
          stamps.push(Date.now());
          await new Promise((r) => setTimeout(r, 100));
        }
        const parser = new CaptureParser();
        parser.push(writePcap(stamps.map((t) => ({ tsSec: Math.floor(t / 1000), tsNanos: (t % 1000) * 1e6, frame }))));
        sent.packets += stamps.length;
        yield parser;
      }
    },
  };
}

describe('event time per ENI', () => {
  let stack: Stack;

  beforeAll(async () => {
    // The default lateness: what the sources report is all the lateness there is.
    stack = await startStack({ FLOWLOGS_IDLE_CLOSE_MS: '500', KAFKA_PARTITIONS: String(PARTITIONS) });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('a capture from 2001 replayed beside a live ENI on the same partition: both exact, no SKIPDATA', async () => {
    const { api, prefix, log } = stack;
    const [liveId, oldId] = idsOnOnePartition();
    const vpc = await api('POST', '/v1/vpcs', { name: 'prod', cidrBlock: DEMO_NETWORK.vpcCidr });
    const subnet = await api('POST', '/v1/subnets', {
      vpcId: vpc.body.id,
      name: 'web',
      cidrBlock: DEMO_NETWORK.subnetCidr,
    });
    const logset = await api('POST', '/v1/logsets', { name: 'audit' });
    const eni = async (id: string, primaryIp: string) => {
      const res = await api('PUT', `/v1/network-interfaces/${id}`, { subnetId: subnet.body.id, name: id, primaryIp });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const topic = await api('POST', '/v1/log-topics', { logsetId: logset.body.id, name: id });
      const flowLog = await api('POST', '/v1/flow-logs', {
        name: id,
        resourceType: 'NETWORKINTERFACE',
        resourceId: id,
        trafficType: 'ALL',
        logTopicId: topic.body.id,
        aggregationInterval: 5,
      });
      expect(flowLog.status, JSON.stringify(flowLog.body)).toBe(201);
      return {
        context: { eniId: id, accountId: res.body.accountId, vpcId: vpc.body.id, subnetId: subnet.body.id },
        topicId: topic.body.id as string,
      };
    };
    const live = await eni(liveId, LIVE_IP);
    const old = await eni(oldId, DEMO_NETWORK.eniIp);

    const producer = reliableProducer(createKafka(kafkaBrokers(), 'event-time-agent', log));
    await producer.connect();
    const topic = topicNames(prefix).packets;

    // The live ENI: the agent's own stream and sender, on a live source.
    const sent = { packets: 0 };
    const queue = new BatchQueue(16 << 20);
    const sending = sendQueued(queue, producer, topic, log);
    const stopLive = new AbortController();
    const stream = new EniStream({
      eni: live.context,
      eniIp: LIVE_IP,
      agentId: 'live',
      secret: await stack.bindAgent(live.context.eniId, 'live'),
      source: nflogLikeSource(sent),
      queue,
      batchPackets: 64,
      flushMs: 100,
      heartbeatMs: 500,
    });
    const running = stream.run(stopLive.signal);
    const liveFrom = Math.floor(Date.now() / 1000);
    await new Promise((r) => setTimeout(r, 4000)); // the partition's time is now, for the live ENI

    // Meanwhile the old capture, at full speed, for the other ENI.
    const dir = mkdtempSync(join(tmpdir(), 'flowlogs-event-time-'));
    const capture = join(dir, 'old.pcap');
    writeFileSync(capture, demoCapture(OLD_START));
    const offline = (await recordsFromCapture(capture, { interval: 5, eni: old.context, eniIp: DEMO_NETWORK.eniIp }))
      .records;
    expect(offline.length).toBeGreaterThan(10);
    await replayCapture({
      producer,
      topic,
      log,
      eni: old.context,
      eniIp: DEMO_NETWORK.eniIp,
      agentId: 'old',
      secret: await stack.bindAgent(old.context.eniId, 'old'),
      path: capture,
      speed: 'max',
      rebase: false,
      batchPackets: 64,
    });

    await new Promise((r) => setTimeout(r, 3000));
    stopLive.abort();
    await running;
    queue.close();
    await sending;
    await producer.disconnect();
    const liveTo = Math.ceil(Date.now() / 1000);

    const view = (r: FlowRecord) =>
      [
        r.windowStart,
        r.srcaddr,
        r.dstaddr,
        r.srcport,
        r.dstport,
        r.protocol,
        r.packets,
        r.bytes,
        r.action,
        r.logStatus,
      ].join(' ');
    const recordsOf = (topicId: string, from: number, to: number, done: (rs: FlowRecord[]) => boolean) =>
      until(`records of ${topicId}`, async () => {
        const res = await api('GET', `/v1/log-topics/${topicId}/records?from=${from}&to=${to}&limit=1000`);
        expect(res.status).toBe(200);
        return done(res.body.records) ? (res.body.records as FlowRecord[]) : undefined;
      });
    const oldRecords = await recordsOf(
      old.topicId,
      OLD_START - 600,
      OLD_START + 600,
      (rs) => rs.length >= offline.length,
    );
    expect(oldRecords.map(view).sort()).toEqual(offline.map(view).sort());

    const pings = (rs: FlowRecord[]) =>
      rs.filter((r) => r.logStatus === 'OK').reduce((n, r) => n + (r.packets ?? 0), 0);
    const liveRecords = await recordsOf(live.topicId, liveFrom - 10, liveTo + 10, (rs) => pings(rs) >= sent.packets);
    expect(pings(liveRecords)).toBe(sent.packets);
    expect(
      liveRecords
        .filter((r) => r.logStatus === 'OK')
        .every((r) => r.bytes === r.packets! * 84 && r.srcaddr === LIVE_IP),
    ).toBe(true);
    expect(liveRecords.filter((r) => r.logStatus === 'SKIPDATA')).toEqual([]);
  });
});
