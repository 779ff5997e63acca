/**
 * Settings travel one way: the control plane writes every log topic's settings (format, Kafka topic,
 * retention) to the compacted log-topics topic, and the publisher follows it; it never reads the
 * control plane's tables. A format changed through the API applies to every record produced after
 * the answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { formatText, topicNames, type FlowRecord } from '@flowlogs/contracts';
import { createKafka, reliableProducer, type Kafka } from '@flowlogs/kafka';
import { kafkaBrokers, makeRecord } from '@flowlogs/testkit';
import { startStack, until, type Stack } from './support/stack.js';

describe('log-topic settings on Kafka', () => {
  let stack: Stack;
  let kafka: Kafka;
  beforeAll(async () => {
    stack = await startStack();
    kafka = createKafka(kafkaBrokers(), 'settings-test', stack.log);
  });
  afterAll(async () => stack?.stop());

  /** Every message on a topic so far, read_committed, from the beginning. */
  async function follow(topic: string): Promise<{ messages: KafkaMessage[]; stop(): Promise<void> }> {
    const consumer = kafka.consumer({ groupId: `${topic}.reader.${Date.now()}`, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const messages: KafkaMessage[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        messages.push(message);
      },
    });
    return { messages, stop: () => consumer.disconnect() };
  }

  it('reach the publisher through the log-topics topic: a format change applies to the next record', async () => {
    const { api, prefix } = stack;
    const topics = topicNames(prefix);
    const logset = (await api('POST', '/v1/logsets', { name: 'l', retentionDays: 3 })).body;
    const topic = (await api('POST', '/v1/log-topics', { logsetId: logset.id, name: 't' })).body;
    const spare = (await api('POST', '/v1/log-topics', { logsetId: logset.id, name: 'spare', format: 'text' })).body;
    const producer = reliableProducer(kafka);
    await producer.connect();
    const delivered = await follow(topic.kafkaTopic);
    let n = 0;
    /** A record for the log topic, straight onto the records topic (as the aggregator writes them). */
    const publish = async (): Promise<FlowRecord> => {
      const r = makeRecord({
        logTopicId: topic.id,
        srcport: 40_000 + n++,
        windowStart: Math.floor(Date.now() / 60_000) * 60,
      });
      await producer.send({
        topic: topics.records,
        messages: [{ key: topic.id, value: JSON.stringify({ records: [r] }) }],
      });
      return r;
    };
    const arrival = (r: FlowRecord) =>
      until(`record ${r.recordId}`, async () =>
        delivered.messages.find((m) => m.headers?.['flowlogs-record-id']?.toString() === r.recordId),
      );

    const first = await publish();
    expect(JSON.parse((await arrival(first)).value!.toString())).toEqual(first);

    // Each change of the format: the record produced right after the answer is in the new format.
    for (const format of ['text', { custom: ['srcport', 'dstport', 'action'] }, 'json'] as const) {
      const changed = Date.now();
      expect((await api('PATCH', `/v1/log-topics/${topic.id}`, { format })).status).toBe(200);
      const r = await publish();
      const value = (await arrival(r)).value!.toString();
      console.log(
        `format ${JSON.stringify(format)}: first record in it delivered ${Date.now() - changed} ms after the PATCH was sent`,
      );
      if (format === 'json') expect(JSON.parse(value)).toEqual(r);
      else expect(value).toBe(format === 'text' ? formatText(r) : `${r.srcport} ${r.dstport} ${r.action}`);
    }
    await producer.disconnect();
    await delivered.stop();

    // The topic holds what the tables hold: the last settings of each log topic, a tombstone for a deleted one.
    expect((await api('PATCH', `/v1/logsets/${logset.id}`, { retentionDays: 9 })).status).toBe(200);
    expect((await api('DELETE', `/v1/log-topics/${spare.id}`)).status).toBe(204);
    const settings = await follow(topics.logTopicSettings);
    const last = await until("the deleted log topic's tombstone", async () => {
      const byId = new Map(
        settings.messages.map((m) => [m.key!.toString(), m.value ? JSON.parse(m.value.toString()) : null]),
      );
      return byId.get(spare.id) === null ? byId : undefined;
    });
    await settings.stop();
    expect(last.get(topic.id)).toEqual({
      id: topic.id,
      kafkaTopic: topic.kafkaTopic,
      format: 'json',
      retentionDays: 9,
    });
    expect([...last.keys()].sort()).toEqual([topic.id, spare.id].sort());
  });
});
