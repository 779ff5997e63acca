/**
 * Kafka's refusals, said plainly. kafkajs reports a missing ACL as "Not authorized to access topics:
 * [Topic authorization failed]", naming neither the topic nor who asked, and wrong credentials as a
 * connection that fails. The clients made by createKafka rethrow such errors as KafkaAccessDenied,
 * one line naming the principal, the operation and the topic, group or transactional id; kafkajs
 * does not retry them (they are not retriable), and the services log them at error level.
 */
import type { Admin, Consumer, ConsumerConfig, Kafka, Producer, ProducerConfig, Transaction } from 'kafkajs';

/** What a call asks of the broker, for the message when it is refused. */
export interface Access {
  operation: 'Read' | 'Write' | 'Create' | 'Describe';
  topics?: string[];
  group?: string;
  transactionalId?: string;
}

export class KafkaAccessDenied extends Error {
  override readonly name = 'KafkaAccessDenied';
}

const README = "see the Kafka ACLs in the README's Running on a cluster";

/** kafkajs's messages for Kafka's refusals: its retrier rethrows them without their type. */
const REFUSALS: Record<string, string> = {
  'Not authorized to access topics: [Topic authorization failed]': 'TOPIC_AUTHORIZATION_FAILED',
  'Not authorized to access group: Group authorization failed': 'GROUP_AUTHORIZATION_FAILED',
  'Transactional Id authorization failed': 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'Cluster authorization failed': 'CLUSTER_AUTHORIZATION_FAILED',
};

/** The error's kafkajs type, also when it comes wrapped (a retrier that gave up) or without it. */
function errorType(err: unknown): string | undefined {
  for (let e = err as { type?: unknown; message?: unknown; cause?: unknown } | undefined; e; ) {
    if (typeof e.type === 'string') return e.type;
    if (typeof e.message === 'string' && REFUSALS[e.message]) return REFUSALS[e.message];
    e = e.cause as typeof e;
  }
  return undefined;
}

/** Whether a kafkajs log line is about a refusal (pure). */
export function isRefusal(text: string): boolean {
  return /authentication failed/i.test(text) || Object.keys(REFUSALS).some((m) => text.includes(m));
}

/** One line for a refusal of `access` to `principal`, or undefined when `err` is something else (pure). */
export function accessDenied(err: unknown, principal: string, access: Access): string | undefined {
  if (err instanceof KafkaAccessDenied) return err.message;
  const name = (err as Error | undefined)?.name;
  if (name === 'KafkaJSSASLAuthenticationError')
    return `Kafka refused the credentials of ${principal}: ${(err as Error).message} (KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SASL_MECHANISM)`;
  const type = errorType(err);
  const topics = access.topics?.length ? access.topics.join(', ') : 'its topics';
  switch (type) {
    case 'TOPIC_AUTHORIZATION_FAILED':
      return `Kafka denied ${principal} ${access.operation} on topic ${topics} (${type}); ${README}`;
    case 'GROUP_AUTHORIZATION_FAILED':
      // Describe only for reading a group's offsets; joining it and committing to it need Read.
      return `Kafka denied ${principal} ${access.operation === 'Describe' ? 'Describe' : 'Read'} on group ${access.group ?? '(unknown)'} (${type}); ${README}`;
    case 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED':
      return `Kafka denied ${principal} Write on transactional id ${access.transactionalId ?? '(unknown)'} (${type}); ${README}`;
    case 'CLUSTER_AUTHORIZATION_FAILED':
      return `Kafka denied ${principal} ${access.operation} on the cluster (${type}), asked for topic ${topics}; ${README}`;
    default:
      return undefined;
  }
}

type AsyncMethod = (...args: never[]) => Promise<unknown>;

/** Replaces `method` of `target` by one that rethrows refusals as KafkaAccessDenied. */
function guard<T extends { [M in K]: AsyncMethod }, K extends keyof T>(
  target: T,
  method: K,
  principal: string,
  access: (...args: Parameters<T[K]>) => Access,
): void {
  const original = target[method];
  target[method] = (async (...args: Parameters<T[K]>) => {
    try {
      return await Reflect.apply(original, target, args);
    } catch (err) {
      const denied = accessDenied(err, principal, access(...args));
      throw denied ? new KafkaAccessDenied(denied, { cause: err }) : err;
    }
  }) as T[K];
}

const topicsOf = (arg: { topic?: string | RegExp; topics?: (string | RegExp)[] } = {}) =>
  [...(arg.topics ?? []), ...(arg.topic ? [arg.topic] : [])].map(String);

function guardTransaction(tx: Transaction, principal: string, transactionalId: string | undefined): Transaction {
  guard(tx, 'send', principal, (r) => ({ operation: 'Write', topics: [r.topic], transactionalId }));
  guard(tx, 'sendOffsets', principal, (o) => ({
    operation: 'Read',
    group: o.consumerGroupId,
    topics: o.topics.map((t) => t.topic),
    transactionalId,
  }));
  guard(tx, 'commit', principal, () => ({ operation: 'Write', transactionalId }));
  return tx;
}

/**
 * Makes the clients of `kafka` report refusals as KafkaAccessDenied (see the top of this file); a
 * consumer's crash for one (a fetch refused) goes to `crashed`.
 */
export function reportRefusals(kafka: Kafka, principal: string, crashed: (refusal: string) => void): Kafka {
  const producer = kafka.producer.bind(kafka);
  kafka.producer = (config?: ProducerConfig): Producer => {
    const p = producer(config);
    const transactionalId = config?.transactionalId;
    guard(p, 'connect', principal, () => ({ operation: 'Write', transactionalId }));
    guard(p, 'send', principal, (r) => ({ operation: 'Write', topics: [r.topic], transactionalId }));
    guard(p, 'sendBatch', principal, (b) => ({
      operation: 'Write',
      topics: (b.topicMessages ?? []).map((t) => t.topic),
      transactionalId,
    }));
    const transaction = p.transaction.bind(p);
    p.transaction = async () => guardTransaction(await transaction(), principal, transactionalId);
    return p;
  };
  const consumer = kafka.consumer.bind(kafka);
  kafka.consumer = (config: ConsumerConfig): Consumer => {
    const c = consumer(config);
    const subscribed: string[] = [];
    guard(c, 'connect', principal, () => ({ operation: 'Read', group: config.groupId }));
    guard(c, 'subscribe', principal, (s) => ({ operation: 'Read', topics: topicsOf(s), group: config.groupId }));
    const subscribe = c.subscribe;
    c.subscribe = async (s) => {
      subscribed.push(...topicsOf(s));
      return subscribe(s);
    };
    guard(c, 'run', principal, () => ({ operation: 'Read', topics: subscribed, group: config.groupId }));
    c.on(c.events.CRASH, ({ payload }) => {
      const denied = accessDenied(payload.error, principal, {
        operation: 'Read',
        topics: subscribed,
        group: config.groupId,
      });
      if (denied) crashed(denied);
      else if (payload.error.name === 'KafkaJSGroupCoordinatorNotFound')
        void brokersAnswer().then((answer) => {
          if (answer)
            crashed(
              `Kafka gave ${principal} no coordinator for group ${config.groupId} while its brokers answer: it lacks Read on the group (kafkajs reports GROUP_AUTHORIZATION_FAILED as "Failed to find group coordinator"); ${README}`,
            );
        });
    });
    return c;
  };
  const admin = kafka.admin.bind(kafka);
  // kafkajs drops a group's refusal while it looks for the group's coordinator: the same error as
  // no broker answering. The brokers answering tells the two apart.
  const brokersAnswer = async () => {
    const probe = admin();
    try {
      await probe.connect();
      await probe.describeCluster();
      return true;
    } catch {
      return false;
    } finally {
      await probe.disconnect().catch(() => {});
    }
  };
  kafka.admin = (config): Admin => {
    const a = admin(config);
    guard(a, 'connect', principal, () => ({ operation: 'Describe' }));
    guard(a, 'createTopics', principal, (o) => ({
      operation: 'Create',
      topics: o.topics.map((t) => t.topic),
    }));
    guard(a, 'fetchTopicMetadata', principal, (o) => ({ operation: 'Describe', topics: o?.topics ?? [] }));
    guard(a, 'fetchTopicOffsets', principal, (topic) => ({ operation: 'Describe', topics: [topic] }));
    guard(a, 'fetchOffsets', principal, (o) => ({ operation: 'Describe', group: o.groupId, topics: o.topics ?? [] }));
    return a;
  };
  return kafka;
}
