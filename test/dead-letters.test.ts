/**
 * Bad input loses nothing and stops nothing: an undecodable packet batch and an undecodable record
 * batch each go to the DLQ with the error, are counted, and the stream goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { topicNames } from '@flowlogs/contracts';
import { createKafka, reliableProducer } from '@flowlogs/kafka';
import { kafkaBrokers } from '@flowlogs/testkit';
import { startStack, until, type Stack } from './support/stack.js';

async function counter(stack: Stack, service: 'aggregator' | 'publisher', name: string): Promise<number> {
  const metric = await stack.registries[service].getSingleMetric(name)?.get();
  return metric?.values.reduce((n, v) => n + v.value, 0) ?? 0;
}

describe('dead letters', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ FLOWLOGS_IDLE_CLOSE_MS: '500' });
  });
  afterAll(async () => stack?.stop());

  it('sends poison messages of the packets and records topics to the DLQ with their error, counted', async () => {
    const topics = topicNames(stack.prefix);
    const kafka = createKafka(kafkaBrokers(), 'dlq-test', stack.log);
    const producer = reliableProducer(kafka);
    await producer.connect();
    await producer.send({ topic: topics.packets, messages: [{ key: 'eni-poison', value: Buffer.from([1, 2, 3]) }] });
    await producer.send({
      topic: topics.records,
      messages: [{ key: 'topic-x', value: '{"records": [{"version": 3}]}' }],
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `${stack.prefix}.dlq-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.dlq, fromBeginning: true });
    const dead: KafkaMessage[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        dead.push(message);
      },
    });
    await until('two dead letters', async () => (dead.length >= 2 ? true : undefined));
    await consumer.disconnect();

    const bySource = Object.fromEntries(dead.map((m) => [m.headers!['flowlogs-source-topic']!.toString(), m]));
    expect(Object.keys(bySource).sort()).toEqual([topics.packets, topics.records].sort());
    expect(bySource[topics.packets].value).toEqual(Buffer.from([1, 2, 3]));
    expect(bySource[topics.packets].headers!['flowlogs-error']!.toString()).toMatch(/packet batch/);
    expect(bySource[topics.records].headers!['flowlogs-error']!.toString()).toMatch(/version/);
    expect(await counter(stack, 'aggregator', 'flowlogs_aggregator_dead_letters_total')).toBe(1);
    expect(await counter(stack, 'publisher', 'flowlogs_publisher_dead_letters_total')).toBe(1);
  });
});
