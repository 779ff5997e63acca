/**
 * Bad input loses nothing and stops nothing: an undecodable packet batch and an undecodable record
 * batch each go to the DLQ with the error, are counted, and the stream goes on; so does a record
 * batch Postgres refuses for good (FLOWLOGS_STORE_ATTEMPTS), which is not delivered either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { topicNames } from '@flowlogs/contracts';
import { createKafka, reliableProducer } from '@flowlogs/kafka';
import { kafkaBrokers, makeRecord } from '@flowlogs/testkit';
import { startStack, until, type Stack } from './support/stack.js';

/** Every message of `topic` a read_committed consumer gets within a few seconds. */
async function readAll(stack: Stack, topic: string, atLeast: number): Promise<KafkaMessage[]> {
  const kafka = createKafka(kafkaBrokers(), 'dlq-test-reader', stack.log);
  const consumer = kafka.consumer({ groupId: `${stack.prefix}.reader.${Date.now()}` });
  await consumer.connect();
  // A log topic's Kafka topic is made with its first delivery.
  await until(`${topic} made`, () =>
    consumer.subscribe({ topic, fromBeginning: true }).then(
      () => true,
      () => undefined,
    ),
  );
  const got: KafkaMessage[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      got.push(message);
    },
  });
  await until(`${atLeast} messages on ${topic}`, async () => (got.length >= atLeast ? true : undefined));
  // A message more (one that should not be there) has a moment to arrive too.
  await new Promise((r) => setTimeout(r, 2000));
  await consumer.disconnect();
  return got;
}

async function counter(stack: Stack, service: 'aggregator' | 'publisher', name: string): Promise<number> {
  const metric = await stack.registries[service].getSingleMetric(name)?.get();
  return metric?.values.reduce((n, v) => n + v.value, 0) ?? 0;
}

describe('dead letters', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ FLOWLOGS_IDLE_CLOSE_MS: '500', FLOWLOGS_STORE_ATTEMPTS: '2' });
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

    const dead = await readAll(stack, topics.dlq, 2);
    expect(dead).toHaveLength(2);

    const bySource = Object.fromEntries(dead.map((m) => [m.headers!['flowlogs-source-topic']!.toString(), m]));
    expect(Object.keys(bySource).sort()).toEqual([topics.packets, topics.records].sort());
    expect(bySource[topics.packets].value).toEqual(Buffer.from([1, 2, 3]));
    expect(bySource[topics.packets].headers!['flowlogs-error']!.toString()).toMatch(/packet batch/);
    expect(bySource[topics.records].headers!['flowlogs-error']!.toString()).toMatch(/version/);
    expect(await counter(stack, 'aggregator', 'flowlogs_aggregator_dead_letters_total')).toBe(1);
    expect(await counter(stack, 'publisher', 'flowlogs_publisher_dead_letters_total')).toBe(1);
  });

  it('sends a record batch Postgres refuses for good to the DLQ instead of its log topic, and goes on', async () => {
    const topics = topicNames(stack.prefix);
    // What Postgres refuses (a check a migration would add, a full disk …): one account's records.
    await stack.db.pool.query(`
      CREATE FUNCTION refuse_account() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'account % refused by the test', NEW.account_id; END $$;
      CREATE TRIGGER refuse_account BEFORE INSERT ON flow_records FOR EACH ROW
        WHEN (NEW.account_id = '999999999999') EXECUTE FUNCTION refuse_account();`);
    const before = await counter(stack, 'publisher', 'flowlogs_publisher_dead_letters_total');
    const refused = makeRecord({ accountId: '999999999999', logTopicId: 'lt-refuse' });
    const stored = makeRecord({ srcport: 50_001, logTopicId: 'lt-refuse' });
    const producer = reliableProducer(createKafka(kafkaBrokers(), 'dlq-test', stack.log));
    await producer.connect();
    await producer.send({
      topic: topics.records,
      messages: [{ key: 'refused', value: JSON.stringify({ records: [refused] }) }],
    });
    await producer.send({
      topic: topics.records,
      messages: [{ key: 'stored', value: JSON.stringify({ records: [stored] }) }],
    });
    await producer.disconnect();

    const delivered = await readAll(stack, topics.logTopic('lt-refuse'), 1);
    expect(delivered.map((m) => m.headers!['flowlogs-record-id']!.toString())).toEqual([stored.recordId]);
    const dead = (await readAll(stack, topics.dlq, 3)).filter((m) => m.value!.toString().includes(refused.recordId));
    expect(dead).toHaveLength(1);
    expect(dead[0].headers!['flowlogs-error']!.toString()).toBe('account 999999999999 refused by the test');
    expect(JSON.parse(dead[0].value!.toString()).records).toEqual([refused]);
    expect(await counter(stack, 'publisher', 'flowlogs_publisher_dead_letters_total')).toBe(before + 1);
    const rows = await stack.db.pool.query('SELECT record_id FROM flow_records WHERE log_topic_id = $1', ['lt-refuse']);
    expect(rows.rows.map((r) => r.record_id)).toEqual([stored.recordId]);
  });
});
