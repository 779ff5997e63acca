/**
 * The transactional stage on the real broker: a processor that holds input across batches (like
 * the aggregator's windows) commits the offset of the first message it still holds; its output
 * must hold every input once, through dead letters, idle flushes, a second member joining the
 * group (a rebalance while states hold input) and a handover to a new instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import {
  Partitioners,
  TransactionalStage,
  createKafka,
  ensureTopics,
  reliableProducer,
  type Kafka,
  type Processor,
} from '@flowlogs/kafka';
import { kafkaBrokers, testLogger, uniquePrefix } from '@flowlogs/testkit';

interface Held {
  messages: Array<{ offset: number; value: string }>;
}

const GROUP = 3;

/** Emits held messages in groups of three; an idle partition emits what it holds; "poison" throws. */
function holdingProcessor(out: string): Processor<Held> {
  const emit = (held: Held, all: boolean) => {
    const n = all ? held.messages.length : held.messages.length - (held.messages.length % GROUP);
    const sent = held.messages.splice(0, n);
    return {
      messages: [[out, sent.map((m) => ({ key: m.value, value: m.value.toUpperCase() }))]] as Array<
        [string, Array<{ key: string; value: string }>]
      >,
      offset: held.messages[0]?.offset,
    };
  };
  return {
    open: () => ({ messages: [] }),
    read: (held, message, offset) => {
      const value = message.value!.toString();
      if (value === 'poison') throw new Error('poison input');
      held.messages.push({ offset, value });
    },
    deadLettered: () => {},
    complete: (held, { position }) => ({
      ...emit(held, false),
      offset: held.messages[0]?.offset ?? position.lastProcessed + 1,
    }),
    idle: (held, position, now) =>
      held.messages.length && now - position.lastInputAt > 1000
        ? () => ({ ...emit(held, true), offset: position.lastProcessed + 1 })
        : undefined,
  };
}

async function readCommitted(
  kafka: Kafka,
  topic: string,
  expected: number,
): Promise<KafkaMessage[] & { partitions?: number[] }> {
  const consumer = kafka.consumer({ groupId: `${topic}.reader.${Date.now()}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: Array<KafkaMessage & { partition: number }> = [];
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      got.push({ ...message, partition });
    },
  });
  const deadline = Date.now() + 30_000;
  while (got.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // Anything more (a duplicate) has a moment to arrive too.
  await new Promise((r) => setTimeout(r, 1500));
  await consumer.disconnect();
  return got;
}

describe('transactional stage', () => {
  const prefix = uniquePrefix();
  const topics = { input: `${prefix}.in`, out: `${prefix}.out`, dlq: `${prefix}.dlq` };
  const log = testLogger();
  let kafka: Kafka;
  const stages: Array<TransactionalStage<Held>> = [];
  const newStage = () => {
    const stage = new TransactionalStage<Held>({
      kafka,
      log,
      groupId: `${prefix}.stage`,
      input: topics.input,
      dlq: topics.dlq,
      processor: holdingProcessor(topics.out),
    });
    stages.push(stage);
    return stage;
  };

  beforeAll(async () => {
    kafka = createKafka(kafkaBrokers(), 'stage-test', log);
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [
      { topic: topics.input, numPartitions: 4 },
      { topic: topics.out, numPartitions: 3 },
      { topic: topics.dlq, numPartitions: 1 },
    ]);
    await admin.disconnect();
  });
  afterAll(async () => {
    await Promise.all(stages.map((s) => s.stop()));
  });

  it('commits every input once through dead letters, idle flushes, a rebalance and a handover', async () => {
    const producer = reliableProducer(kafka);
    await producer.connect();
    const send = (from: number, to: number) =>
      producer.send({
        topic: topics.input,
        messages: Array.from({ length: to - from }, (_, i) => ({ key: `k${from + i}`, value: `m${from + i}` })),
      });

    const first = newStage();
    await first.start();
    await send(0, 100);
    await producer.send({ topic: topics.input, messages: [{ key: 'bad', value: 'poison' }] });
    // A second member joins while input flows and the first holds some: the group rebalances, and
    // every partition resumes from its committed offset, a kept one too.
    const flowing = (async () => {
      for (let i = 100; i < 300; i += 5) {
        await send(i, i + 5);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const second = newStage();
    await second.start();
    await flowing;
    await new Promise((r) => setTimeout(r, 2000));
    await first.stop();
    await send(300, 400);
    const third = newStage();
    await third.start();
    await send(400, 500);
    await producer.disconnect();

    const out = await readCommitted(kafka, topics.out, 500);
    const values = out.map((m) => m.value!.toString()).sort();
    expect(values).toEqual(Array.from({ length: 500 }, (_, i) => `M${i}`).sort());
    // Each output went to the partition a plain send of its key would have chosen.
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2].map((partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    for (const m of out as Array<KafkaMessage & { partition: number }>) {
      expect(m.partition).toBe(
        partitioner({ topic: topics.out, partitionMetadata, message: { key: m.key, value: null } }),
      );
    }
    const dead = await readCommitted(kafka, topics.dlq, 1);
    expect(dead.map((m) => [m.value!.toString(), m.headers!['flowlogs-error']!.toString()])).toEqual([
      ['poison', 'poison input'],
    ]);
  });
});
