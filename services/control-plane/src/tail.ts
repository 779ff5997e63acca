/** The live tail of a log topic: its Kafka topic from now on, filtered by a query, as Server-Sent Events. */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { FlowRecord, RecordFormat } from '@flowlogs/contracts';
import { FETCH_MAX_WAIT_MS } from '@flowlogs/kafka';
import type { RecordPredicate } from './query/index.js';

export const KEEPALIVE_MS = 15_000;
/** The event each record is sent as. */
export const TAIL_EVENT = 'record';

/** A log topic's format as a word for messages: json, text or custom. */
export const formatName = (format: RecordFormat) => (typeof format === 'string' ? format : 'custom');

/** One SSE event; `data` is one line (JSON has no raw newlines). */
export const sseEvent = (event: string, data: string) => `event: ${event}\ndata: ${data}\n\n`;
export const sseComment = (text: string) => `: ${text}\n\n`;

export interface TailOptions {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  matches: RecordPredicate;
  send(record: FlowRecord): Promise<void>;
}

/**
 * Reads the topic from its end as of this call (read_committed, a consumer group of its own, no offset
 * commits) and sends each matching record. The end is taken before the group is joined, and sought to
 * once it is, so nothing published after the call is missed however long the join takes.
 * Resolves to the function that stops it.
 */
export async function startTail({ kafka, admin, topic, matches, send }: TailOptions): Promise<() => Promise<void>> {
  const ends = await admin.fetchTopicOffsets(topic);
  const consumer = kafka.consumer({
    groupId: `${topic}.tail.${randomUUID()}`,
    readUncommitted: false,
    maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        let record: FlowRecord;
        try {
          record = JSON.parse(message.value?.toString() ?? '') as FlowRecord;
        } catch {
          return; // not a JSON record: nothing a query can match
        }
        if (matches(record)) await send(record);
      },
    });
    for (const { partition, high } of ends) consumer.seek({ topic, partition, offset: high });
  } catch (err) {
    await consumer.disconnect();
    throw err;
  }
  return () => consumer.disconnect();
}
