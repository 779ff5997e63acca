/**
 * kafkajs's produce requests are written whole by encodeProduce once @flowlogs/kafka is loaded: the
 * same bytes as kafkajs's own request for every kind of message set, kafkajs's own where it cannot
 * (compression, a record the lean Record refuses), and the messages survive the real broker.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { kafkaBrokers, testLogger, uniquePrefix } from '@flowlogs/testkit';
import { createKafka, leanProduceInstalled, reliableProducer } from '../src/index.js';
import { type ProduceArgs, encodeProduce, kafkajsProduceRequest, leanProduceRequest } from '../src/lean-produce.js';

const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): unknown };

const bytesOf = async (request: { encode(): Promise<unknown> }) =>
  Buffer.from(((await request.encode()) as { buffer: Buffer }).buffer);

/** A flow record's delivery as the publisher makes it. */
const delivery = (i: number) => ({
  key: `eni-${i % 7} 10.0.${i % 250}.4 198.51.100.${i % 200} 443 ${50_000 + i} 6`,
  value: JSON.stringify({ recordId: `r-${i}`, bytes: i * 1500, note: i % 3 ? 'é ✓' : 'plain' }),
  headers: { 'flowlogs-record-id': `r-${i}` },
});

const args = (topicData: ProduceArgs['topicData'], extra: Partial<ProduceArgs> = {}): ProduceArgs => ({
  acks: -1,
  timeout: 30_000,
  transactionalId: 'flowlogs.publisher.records.3',
  producerId: Long.fromValue(4711),
  producerEpoch: 2,
  compression: 0,
  topicData,
  ...extra,
});

describe('the lean produce request', () => {
  afterEach(() => vi.useRealTimers());

  it("writes kafkajs's bytes for every kind of message set", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_765_000_000_123);
    const original = kafkajsProduceRequest();
    const lean = leanProduceRequest(original);
    const cases: ProduceArgs[] = [
      // The publisher's: many small records, two partitions of one topic, a second topic.
      args([
        {
          topic: 'p.topic.lt-1',
          partitions: [
            { partition: 0, firstSequence: 17, messages: Array.from({ length: 500 }, (_, i) => delivery(i)) },
            { partition: 3, firstSequence: 0, messages: [delivery(9)] },
          ],
        },
        {
          topic: 'p.topic.lt-2',
          partitions: [{ partition: 1, firstSequence: 2 ** 31 - 1, messages: [delivery(1), delivery(2)] }],
        },
      ]),
      // The agent's: large binary values with a signature header and timestamps of their own.
      args(
        [
          {
            topic: 'p.packets',
            partitions: [
              {
                partition: 2,
                firstSequence: 5,
                messages: [
                  {
                    key: 'eni-a',
                    value: randomBytes(115_000),
                    headers: { 'flowlogs-signature': randomBytes(32) },
                    timestamp: 1_765_000_000_500,
                  },
                  { key: 'eni-a', value: randomBytes(70_000), timestamp: '1765000000100' },
                  { key: Buffer.from([0, 255]), value: randomBytes(10), timestamp: 1_765_000_000_900 },
                ],
              },
            ],
          },
        ],
        { transactionalId: null, producerId: undefined, producerEpoch: undefined },
      ),
      // No key, no value, header arrays, timestamps before the batch's clock, an idempotent producer without a transaction.
      args(
        [
          {
            topic: 'é',
            partitions: [
              {
                partition: 0,
                messages: [
                  { key: null, value: null },
                  { value: 'v', headers: { a: ['x', 'yy'], b: Buffer.from('zz') }, timestamp: 1_765_000_000_000 },
                  { key: 'k', value: randomBytes(64) },
                  // UTF-8 longer than its UTF-16 units by a size of length; a body of 1 MB and more.
                  { key: 'ü'.repeat(30), value: 'é'.repeat(40), headers: { clé: '✓'.repeat(50) } },
                  { key: 'big', value: randomBytes(1_100_000), headers: { h: 'x' } },
                ],
              },
            ],
          },
        ],
        { transactionalId: undefined, acks: 1 },
      ),
      // Names longer than the first buffer: a non-ASCII transactional id and topic, one small record.
      args([{ topic: 'ü'.repeat(70), partitions: [{ partition: 4, messages: [{ key: 'k', value: 'v' }] }] }], {
        transactionalId: '✓'.repeat(200),
      }),
    ];
    for (const c of cases) {
      const mine = encodeProduce(c);
      expect(mine).toBeDefined();
      const theirs = await bytesOf(original(c));
      expect(Buffer.from(mine!).equals(theirs)).toBe(true);
      expect((await bytesOf(lean(c))).equals(theirs)).toBe(true);
    }
  });

  it("leaves compressed batches and records it cannot write to kafkajs's own", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_765_000_000_123);
    const original = kafkajsProduceRequest();
    const lean = leanProduceRequest(original);
    const others: ProduceArgs[] = [
      args([{ topic: 't', partitions: [{ partition: 0, messages: [delivery(1)] }] }], { compression: 1 }),
      args([{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'k', value: 'v', headers: { a: '' } }] }] }]),
      args([
        {
          topic: 't',
          partitions: [
            {
              partition: 0,
              messages: [
                { key: 'k', value: 'v', timestamp: 2 ** 40 },
                { key: 'k', value: 'w' },
              ],
            },
          ],
        },
      ]),
    ];
    for (const c of others) {
      expect(encodeProduce(c)).toBeUndefined();
      // GZIP output carries no clock: the same bytes either way.
      expect((await bytesOf(lean(c))).equals(await bytesOf(original(c)))).toBe(true);
    }
  });

  it("is kafkajs's produce request once @flowlogs/kafka is loaded: keys, values and headers survive the broker", async () => {
    expect(leanProduceInstalled).toBe(true);
    const kafka = createKafka(kafkaBrokers(), 'lean-produce-test', testLogger());
    const topic = `${uniquePrefix()}.lean-produce`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const producer = reliableProducer(kafka);
    await producer.connect();
    const sent = Array.from({ length: 300 }, (_, i) => delivery(i));
    await producer.send({ topic, acks: -1, messages: sent });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `${topic}.reader` });
    const seen = new Map<string, { key: string; value: string }>();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.set(String(message.headers!['flowlogs-record-id']), {
          key: message.key!.toString(),
          value: message.value!.toString(),
        });
      },
    });
    const deadline = Date.now() + 30_000;
    while (seen.size < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await consumer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
    expect(seen.size).toBe(sent.length);
    for (const m of sent) expect(seen.get(m.headers['flowlogs-record-id'])).toEqual({ key: m.key, value: m.value });
  });
});
