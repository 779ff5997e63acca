/**
 * kafkajs 2.2.4 can drop messages when a partition's leader changes during a send (kafkajs#1303):
 * a send that spans several brokers remembers which *brokers* answered; on the retry after one
 * failed (its broker died), the failed partitions' new leader is often a broker that answered
 * already, and kafkajs skips it: `send()` resolves, the transaction commits with its input offsets,
 * and those partitions' messages are gone. Records went missing from log topics when a broker died
 * for good (issue 17). A retry could also resend, with new sequence numbers, the requests still in
 * flight when one failed (duplicates).
 *
 * The fix: every send is split per partition before kafkajs sees it, so each of kafkajs's own sends
 * (with its retries and leader lookups) concerns one partition, hence one broker at a time; the
 * partitions go in parallel. The split uses the producer's own partitioner and the cluster's
 * metadata, then names the partition of each message. kafkajs's send module is replaced in the
 * require cache by a wrapper around it, which kafkajs then loads (as crc32c.ts does): this must be
 * evaluated before kafkajs's producer is; client.ts imports it before kafkajs.
 */
import type { Message, PartitionMetadata, RecordMetadata } from 'kafkajs';
import { kafkajsRequire as require, replaceModule } from './module-cache.js';

const SEND_MESSAGES_MODULE = require.resolve('kafkajs/src/producer/sendMessages.js');
const MESSAGE_PRODUCER_MODULE = require.resolve('kafkajs/src/producer/messageProducer.js');
const ERRORS_MODULE = require.resolve('kafkajs/src/errors.js');
const GROUP_MODULE = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');

interface TopicMessages {
  topic: string;
  messages: Message[];
}
interface SendArgs {
  acks?: number;
  timeout?: number;
  compression?: number;
  topicMessages: TopicMessages[];
}
type SendMessages = (args: SendArgs) => Promise<RecordMetadata[]>;
type Retrier = <T>(fn: (bail: (err: Error) => void, retryCount: number, retryTime: number) => Promise<T>) => Promise<T>;
interface SendOptions {
  cluster: {
    addMultipleTargetTopics(topics: string[]): Promise<void>;
    refreshMetadataIfNecessary(): Promise<void>;
    refreshMetadata(): Promise<void>;
    findTopicPartitionMetadata(topic: string): PartitionMetadata[];
  };
  partitioner: (args: { topic: string; partitionMetadata: PartitionMetadata[]; message: Message }) => number;
  retrier: Retrier;
}

/** The messages, one entry per topic and partition, each message naming its partition (pure). */
export function splitByPartition(
  topicMessages: TopicMessages[],
  partitionOf: (topic: string, message: Message) => number,
): TopicMessages[] {
  const out: TopicMessages[] = [];
  for (const { topic, messages } of topicMessages) {
    const byPartition = new Map<number, Message[]>();
    for (const message of messages) {
      const partition = partitionOf(topic, message);
      const list = byPartition.get(partition);
      const named = { ...message, partition };
      if (list) list.push(named);
      else byPartition.set(partition, [named]);
    }
    for (const list of byPartition.values()) out.push({ topic, messages: list });
  }
  return out;
}

/**
 * kafkajs's grouping of a send's messages per partition (an object keyed by partition, each list in
 * the messages' order), in one pass: kafkajs's own copies the partition's list at every message
 * (`[...current, message]`), quadratic in the messages of a send — a 768 kB send of the publisher's
 * deliveries is ~1,300 of them.
 */
export function groupMessagesPerPartition({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: {
  topic: string;
  partitionMetadata: PartitionMetadata[];
  messages: Message[];
  partitioner: SendOptions['partitioner'];
}): Record<number, Message[]> {
  const groups: Record<number, Message[]> = {};
  if (!partitionMetadata.length) return groups;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const list = groups[partition];
    if (list) list.push(message);
    else groups[partition] = [message];
  }
  return groups;
}

export function sendPerPartition(createSendMessages: (opts: SendOptions) => SendMessages) {
  const { KafkaJSMetadataNotLoaded } = require(ERRORS_MODULE) as { KafkaJSMetadataNotLoaded: new (m: string) => Error };
  return (opts: SendOptions): SendMessages => {
    const send = createSendMessages(opts);
    const { cluster, partitioner, retrier } = opts;
    // The partitions as kafkajs would pick them, once the topics' metadata is known (kafkajs waits the same way).
    const split = (topicMessages: TopicMessages[]) =>
      retrier(async () => {
        await cluster.addMultipleTargetTopics(topicMessages.map((t) => t.topic));
        await cluster.refreshMetadataIfNecessary();
        const metadata = new Map<string, PartitionMetadata[]>();
        for (const { topic } of topicMessages) {
          const partitionMetadata = cluster.findTopicPartitionMetadata(topic);
          if (!partitionMetadata.length) {
            await cluster.refreshMetadata();
            throw new KafkaJSMetadataNotLoaded(`no partitions known yet for topic ${topic}`);
          }
          metadata.set(topic, partitionMetadata);
        }
        return splitByPartition(topicMessages, (topic, message) =>
          partitioner({ topic, partitionMetadata: metadata.get(topic)!, message }),
        );
      });
    return async ({ topicMessages, ...rest }) => {
      const parts = await split(topicMessages);
      // All settle before a failure is reported: the caller's retry must not overlap sends still running.
      const results = await Promise.allSettled(parts.map((part) => send({ ...rest, topicMessages: [part] })));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return results.flatMap((r) => (r as PromiseFulfilledResult<RecordMetadata[]>).value);
    };
  };
}

function install(): boolean {
  if (require.cache[MESSAGE_PRODUCER_MODULE]) return false;
  replaceModule(GROUP_MODULE, groupMessagesPerPartition);
  const original = require(SEND_MESSAGES_MODULE) as (opts: SendOptions) => SendMessages;
  replaceModule(SEND_MESSAGES_MODULE, sendPerPartition(original));
  return true;
}

/** Whether kafkajs's producers send per partition (false: kafkajs's producer was loaded before @flowlogs/kafka). */
export const sendsPerPartition = install();
