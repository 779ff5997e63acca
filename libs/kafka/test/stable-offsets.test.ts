/**
 * The stable offset read (stable-offsets.ts) against the real broker: while a transaction that
 * commits a group's offset is open, the partition reads as unstable (a plain OffsetFetch answers
 * the old offset); once it commits, the new offset and its metadata; once one aborts, the old.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { createKafka, reliableProducer, stableOffsetsInstalled } from '../src/index.js';
import { stableOffsetsOf } from '../src/stable-offsets.js';
import { kafkaBrokers, testLogger, uniquePrefix } from '@flowlogs/testkit';

describe('stable offsets', () => {
  const kafka = createKafka(kafkaBrokers(), 'stable-offsets-test', testLogger());
  const topic = `${uniquePrefix()}.input`;
  const groupId = `${topic}.group`;
  let admin: Admin;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  });
  afterAll(() => admin.disconnect());

  it('are unstable while a transaction commits offsets, then the committed ones', async () => {
    expect(stableOffsetsInstalled).toBe(true);
    const read = stableOffsetsOf(admin);
    const producer = reliableProducer(kafka, `${topic}.tx`);
    await producer.connect();
    const commitOffset = async (
      offset: string,
      metadata: string,
      end: 'commit' | 'abort',
      whileOpen?: () => Promise<void>,
    ) => {
      const tx = await producer.transaction();
      await tx.send({ topic, acks: -1, messages: [{ key: 'k', value: offset, partition: 1 }] });
      await tx.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic, partitions: [{ partition: 1, offset, metadata } as { partition: number; offset: string }] }],
      });
      await whileOpen?.();
      await tx[end]();
    };
    try {
      expect(await read({ groupId, topic, partitions: [0, 1] })).toEqual([
        { partition: 0, offset: '-1', metadata: null, unstable: false },
        { partition: 1, offset: '-1', metadata: null, unstable: false },
      ]);
      await commitOffset('7', 'first', 'commit', async () => {
        const during = await read({ groupId, topic, partitions: [1] });
        expect(during).toEqual([expect.objectContaining({ partition: 1, unstable: true })]);
        // What kafkajs's own read answers meanwhile: the offset from before.
        const plain = await admin.fetchOffsets({ groupId, topics: [topic] });
        expect(plain[0]!.partitions.find((p) => p.partition === 1)!.offset).toBe('-1');
      });
      let after = await read({ groupId, topic, partitions: [1] });
      for (let i = 0; i < 50 && after[0]!.unstable; i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await read({ groupId, topic, partitions: [1] });
      }
      expect(after).toEqual([{ partition: 1, offset: '7', metadata: 'first', unstable: false }]);
      await commitOffset('9', 'second', 'abort');
      let aborted = await read({ groupId, topic, partitions: [1] });
      for (let i = 0; i < 50 && aborted[0]!.unstable; i++) {
        await new Promise((r) => setTimeout(r, 100));
        aborted = await read({ groupId, topic, partitions: [1] });
      }
      expect(aborted).toEqual([{ partition: 1, offset: '7', metadata: 'first', unstable: false }]);
    } finally {
      await producer.disconnect();
    }
  });
});
