/**
 * kafkajs's producers send per partition once @flowlogs/kafka is loaded (send-per-partition.ts): the
 * split is the partitioner's, every message arrives once on the partition kafkajs would have picked,
 * in a transaction too. (What it fixes, a leader dying mid-send, is test/faults/broker-loss.test.ts.)
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Partitioners, createKafka, reliableProducer, sendsPerPartition } from '../src/index.js';
import { loadOwn } from '../src/module-cache.js';
import { groupMessagesPerPartition, splitByPartition } from '../src/send-per-partition.js';
import { kafkaBrokers, testLogger, uniquePrefix } from '@flowlogs/testkit';

describe('splitByPartition', () => {
  it('makes one entry per topic and partition, in order, each message naming its partition', () => {
    const msgs = (keys: string[]) => keys.map((key) => ({ key, value: `v-${key}` }));
    const parts = splitByPartition(
      [
        { topic: 'a', messages: msgs(['1', '2', '3', '4']) },
        { topic: 'b', messages: msgs(['5']) },
      ],
      (topic, m) => (topic === 'a' ? Number(m.key) % 2 : 7),
    );
    expect(parts).toEqual([
      {
        topic: 'a',
        messages: [
          { key: '1', value: 'v-1', partition: 1 },
          { key: '3', value: 'v-3', partition: 1 },
        ],
      },
      {
        topic: 'a',
        messages: [
          { key: '2', value: 'v-2', partition: 0 },
          { key: '4', value: 'v-4', partition: 0 },
        ],
      },
      { topic: 'b', messages: [{ key: '5', value: 'v-5', partition: 7 }] },
    ]);
  });
});

describe('groupMessagesPerPartition', () => {
  it("groups as kafkajs's own, in one pass, and is the one kafkajs uses", () => {
    const require = createRequire(import.meta.url);
    const GROUP = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
    expect(require(GROUP)).toBe(groupMessagesPerPartition);
    const kafkajs = loadOwn(GROUP) as typeof groupMessagesPerPartition;
    const partitionMetadata = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((partitionId) => ({ partitionId }) as never);
    const partitioner = ({ message }: { message: { value: string } }) =>
      ((Number(message.value.slice(1)) % 97) * 5) % 12;
    const messages = Array.from({ length: 2000 }, (_, i) => ({ key: `k${i % 31}`, value: `v${i}` }));
    const args = { topic: 't', partitionMetadata, messages, partitioner: partitioner as never };
    const mine = groupMessagesPerPartition(args);
    expect(Object.keys(mine).length).toBeGreaterThan(6);
    expect(mine).toEqual(kafkajs(args));
    expect(groupMessagesPerPartition({ ...args, partitionMetadata: [] })).toEqual({});
  });
});

describe('producers of @flowlogs/kafka', () => {
  it("deliver a transaction spanning partitions once each, on the default partitioner's partitions", async () => {
    expect(sendsPerPartition).toBe(true);
    const kafka = createKafka(kafkaBrokers(), 'send-per-partition-test', testLogger());
    const topic = `${uniquePrefix()}.spread`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    const producer = reliableProducer(kafka, `${topic}.tx`);
    await producer.connect();
    const messages = Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    const tx = await producer.transaction();
    const sent = await tx.send({ topic, acks: -1, messages });
    await tx.commit();
    await producer.disconnect();
    expect(sent.map((r) => r.partition).sort()).toEqual([0, 1, 2, 3]);
    const consumer = kafka.consumer({ groupId: `${topic}.reader`, readUncommitted: false });
    const seen = new Map<string, number>();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.set(message.key!.toString(), partition);
      },
    });
    const deadline = Date.now() + 30_000;
    while (seen.size < messages.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await consumer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
    expect(seen.size).toBe(messages.length);
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2, 3].map((partitionId) => ({
      partitionId,
      leader: 1,
      partitionErrorCode: 0,
      replicas: [1],
      isr: [1],
    }));
    for (const m of messages)
      expect(seen.get(m.key), m.key).toBe(partitioner({ topic, partitionMetadata, message: m }));
  });
});
