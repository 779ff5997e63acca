// First: they must run before kafkajs is loaded (see lean-encoder.ts, lean-produce.ts, crc32c.ts, murmur2.ts,
// send-per-partition.ts, stable-offsets.ts, aborted-transactions.ts and idle-request-queue.ts).
import { abortedFilterInstalled } from './aborted-transactions.js';
import { idleRequestQueueInstalled } from './idle-request-queue.js';
import { leanEncoderInstalled } from './lean-encoder.js';
import { leanProduceInstalled } from './lean-produce.js';
import { nativeCrc32c } from './crc32c.js';
import { fastMurmur2 } from './murmur2.js';
import { sendsPerPartition } from './send-per-partition.js';
import { stableOffsetsInstalled } from './stable-offsets.js';
import {
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type ITopicConfig,
  type LogEntry,
  type Message,
  type Producer,
  type ProducerRecord,
} from 'kafkajs';
import { PLAINTEXT, type KafkaSecurity, type Logger } from '@flowlogs/runtime';
import { KafkaAccessDenied, isRefusal, reportRefusals } from './access.js';
import { kafkaClientOptions, kafkaPrincipal } from './security.js';
import { TransientLog, transientCondition } from './transient-log.js';

export type { Kafka };
/** kafkajs's partitioners, from here so that kafkajs is only ever loaded through this module (crc32c.ts). */
export { Partitioners };

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * The one place a kafkajs client is made. Its own logs go through the service's pino logger: its
 * warnings and errors (the transient conditions of a cluster at warn, once per episode:
 * transient-log.ts); at debug level its info too (consumer starts and stops, group joins and their
 * assignments). TLS and SASL come from `security` (CommonConfig's KAFKA_SECURITY_PROTOCOL and the
 * rest; its files are read here: an unreadable one throws a ConfigError naming its variable), and
 * the broker's refusals come back as one line naming the principal (access.ts).
 */
export function createKafka(
  brokers: string[],
  clientId: string,
  log: Logger,
  security: KafkaSecurity = PLAINTEXT,
): Kafka {
  const child = log.child({ component: 'kafkajs' });
  if (!sendsPerPartition)
    child.error(
      'kafkajs was loaded before @flowlogs/kafka: its producers send as kafkajs does, which can lose messages when a partition leader changes (see send-per-partition.ts)',
    );
  if (!stableOffsetsInstalled)
    child.error(
      'kafkajs was loaded before @flowlogs/kafka: its admins cannot read stable offsets, and exactly-once stages cannot take a partition over (see stable-offsets.ts)',
    );
  if (!abortedFilterInstalled)
    child.error(
      'kafkajs was loaded before @flowlogs/kafka: its read_committed consumers can return messages of aborted transactions (see aborted-transactions.ts)',
    );
  if (!leanEncoderInstalled)
    child.warn(
      'kafkajs was loaded before @flowlogs/kafka: it encodes requests with its own Encoder, which copies a record batch about ten times (see lean-encoder.ts)',
    );
  if (!leanProduceInstalled)
    child.warn(
      'kafkajs was loaded before @flowlogs/kafka: it builds produce requests from an encoder per record (see lean-produce.ts)',
    );
  if (!idleRequestQueueInstalled)
    child.warn(
      'kafkajs was loaded before @flowlogs/kafka: each of its connections runs a timer about every millisecond, idle or not (see idle-request-queue.ts)',
    );
  if (!nativeCrc32c)
    child.warn(
      'no native CRC-32C (kafkajs loaded before @flowlogs/kafka, or @node-rs/crc32 has no binding here): record batches are checksummed in JavaScript, slower',
    );
  if (!fastMurmur2)
    child.warn(
      "kafkajs was loaded before @flowlogs/kafka: its partitioner hashes keys with kafkajs's own murmur2, in 64-bit Long objects (see murmur2.ts)",
    );
  const transient = new TransientLog(child);
  const options = kafkaClientOptions(security);
  const principal = kafkaPrincipal(security, options);
  const kafka = new Kafka({
    clientId,
    brokers,
    ...options,
    logLevel: log.isLevelEnabled('debug') ? logLevel.INFO : logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: { level: number; log: LogEntry['log'] }) => {
        const { message, ...extra } = entry;
        const condition = level <= logLevel.WARN ? transientCondition(message, extra.error) : undefined;
        if (condition) transient.report(condition, message, extra);
        // Said once by whoever made the call, naming who was refused what (access.ts).
        else if (isRefusal(`${message} ${extra.error ?? ''}`)) child.debug(extra, message);
        // ensureTopics gets these itself: a topic another service made first is no error, any other it throws.
        else if (message.startsWith('Response CreateTopics')) child.debug(extra, message);
        else child[LEVELS[level] ?? 'info'](extra, message);
      },
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5_000 },
  });
  return reportRefusals(kafka, principal, (refusal) => child.error(refusal));
}

/** A refusal (KafkaAccessDenied) is an operator's to fix: error level; anything else retried is a warning. */
export const retriedLevel = (err: unknown): 'error' | 'warn' => (err instanceof KafkaAccessDenied ? 'error' : 'warn');

/**
 * An idempotent producer; with a transactional id, a transactional one (one per input partition, so
 * that a restarted or new owner of the partition fences the old one). Retries are not limited: a
 * limited count would let a retried send be written twice, and the callers wait out a broker outage.
 */
export function reliableProducer(kafka: Kafka, transactionalId?: string): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    transactionalId,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5_000 },
  });
}

/**
 * Consumer group timing. A member killed without leaving the group is noticed after sessionTimeout;
 * until then the group's partitions it held stand still (kafkajs's default 30 s stopped records for
 * 25–35 s after a kill -9). kafkajs heartbeats between fetches and when a batch handler calls
 * heartbeat(), every heartbeatInterval at most. 6 s is the brokers' default minimum session.
 */
export const GROUP_TIMING = { sessionTimeout: 6_000, heartbeatInterval: 1_000, rebalanceTimeout: 30_000 } as const;

/** Consumers wait at most this long for data per fetch: keeps shutdown and idle detection quick. */
export const FETCH_MAX_WAIT_MS = 500;

/** How the system makes its topics (CommonConfig's settings). */
export interface TopicSettings {
  KAFKA_PARTITIONS: number;
  KAFKA_REPLICATION_FACTOR: number;
  KAFKA_MIN_INSYNC_REPLICAS: number;
}

/** A topic with the installation's replication; partitions default to KAFKA_PARTITIONS. */
export function topicConfig(
  topic: string,
  settings: TopicSettings,
  more: { numPartitions?: number; configEntries?: ITopicConfig['configEntries'] } = {},
): ITopicConfig {
  return {
    topic,
    numPartitions: more.numPartitions ?? settings.KAFKA_PARTITIONS,
    replicationFactor: settings.KAFKA_REPLICATION_FACTOR,
    configEntries: [
      ...(more.configEntries ?? []),
      { name: 'min.insync.replicas', value: String(settings.KAFKA_MIN_INSYNC_REPLICAS) },
    ],
  };
}

/**
 * Why the topics cannot be made on a cluster of `brokers` brokers (a factor above it, or more
 * replicas to be in sync than there are), or undefined.
 */
export function replicationProblem(topics: ITopicConfig[], brokers: number): string | undefined {
  for (const t of topics) {
    const factor = t.replicationFactor ?? 1;
    const minIsr = Number(t.configEntries?.find((e) => e.name === 'min.insync.replicas')?.value ?? 1);
    if (factor > brokers)
      return `topic ${t.topic} needs ${factor} replicas (KAFKA_REPLICATION_FACTOR) but the cluster has ${brokers} broker${brokers === 1 ? '' : 's'}`;
    if (minIsr > factor)
      return `topic ${t.topic} would need ${minIsr} replicas in sync (KAFKA_MIN_INSYNC_REPLICAS) of ${factor} (KAFKA_REPLICATION_FACTOR): no write could succeed`;
  }
  return undefined;
}

/** How long ensureTopics waits for every new partition to have a leader. */
const LEADERS_TIMEOUT_MS = 30_000;

/**
 * Creates missing topics; existing ones are left as they are. Resolves once every partition has a
 * leader; throws a clear error when the cluster cannot hold them (replicationProblem) or no leaders
 * come, rather than waiting for ever.
 */
export async function ensureTopics(admin: Admin, topics: ITopicConfig[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (!missing.length) return;
  const { brokers } = await admin.describeCluster();
  const problem = replicationProblem(missing, brokers.length);
  if (problem)
    throw new Error(`cannot create Kafka topics: ${problem} (${brokers.map((b) => `${b.host}:${b.port}`).join(', ')})`);
  try {
    // Leaders are awaited below: kafkajs's own wait gives up when a broker does not know the new topic yet.
    await admin.createTopics({ topics: missing, waitForLeaders: false });
  } catch (err) {
    // Another service created them first.
    if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
  }
  // A new topic can answer "does not host this topic-partition" for a moment after its creation.
  const deadline = Date.now() + LEADERS_TIMEOUT_MS;
  for (;;) {
    const led = await admin.fetchTopicMetadata({ topics: missing.map((t) => t.topic) }).then(
      ({ topics: meta }) => meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)),
      () => false,
    );
    if (led) return;
    if (Date.now() > deadline)
      throw new Error(
        `Kafka topics ${missing.map((t) => t.topic).join(', ')} have partitions without a leader ${LEADERS_TIMEOUT_MS / 1000} s after their creation`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

type PipelineTopic = 'packets' | 'rules' | 'logTopicSettings' | 'inventory' | 'records' | 'dlq';

/**
 * The pipeline's own topics, with the partitions and replication this installation uses; `only`
 * those a service uses (it may create just those: its Kafka principal needs no more).
 */
export function pipelineTopics(
  names: Record<PipelineTopic, string>,
  settings: TopicSettings,
  only?: PipelineTopic[],
): ITopicConfig[] {
  const compacted = { numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] };
  const all: Record<PipelineTopic, ITopicConfig> = {
    packets: topicConfig(names.packets, settings, {
      configEntries: [{ name: 'compression.type', value: 'producer' }],
    }),
    rules: topicConfig(names.rules, settings, compacted),
    logTopicSettings: topicConfig(names.logTopicSettings, settings, compacted),
    inventory: topicConfig(names.inventory, settings, compacted),
    records: topicConfig(names.records, settings),
    dlq: topicConfig(names.dlq, settings, { numPartitions: 1 }),
  };
  return (only ?? (Object.keys(all) as PipelineTopic[])).map((t) => all[t]);
}

/** Below the broker's default 1 MB max.message.bytes: a produce request's record batch per partition must fit. */
export const MAX_SEND_BYTES = 768 * 1024;

/**
 * Sends messages in several requests of at most `maxBytes` of values each (at least one message a
 * request), so that no partition's record batch exceeds the broker's limit, however many are due.
 * Works for a producer and for a transaction alike.
 */
export async function sendBounded(
  sender: { send(record: ProducerRecord): Promise<unknown> },
  topic: string,
  messages: Message[],
  maxBytes = MAX_SEND_BYTES,
): Promise<void> {
  let start = 0;
  while (start < messages.length) {
    let end = start;
    let bytes = 0;
    do bytes += (messages[end].value?.length ?? 0) + (messages[end].key?.length ?? 0);
    while (++end < messages.length && bytes + (messages[end].value?.length ?? 0) <= maxBytes);
    await sender.send({ topic, acks: -1, messages: messages.slice(start, end) });
    start = end;
  }
}

/**
 * A consumer kept running: kafkajs restarts a consumer after a retriable crash, but gives up on
 * others (no group coordinator while a broker restarts, for one); then this starts a new one.
 * `create` makes a consumer (and subscribes to its events); `start` connects, subscribes and runs
 * it; `onReplace` runs before a new one starts (state tied to the old assignment goes: the new one
 * resumes from committed offsets).
 *
 * The crash listener is attached before `start`: kafkajs joins the group inside `consumer.run()`,
 * and a join that fails for good (the broker going away meanwhile) emits the crash, with
 * `restart: false`, before `run()` resolves; a listener attached afterwards never hears of it, and
 * the consumer stays stopped while the service looks started.
 */
export class SupervisedConsumer {
  private current: Consumer | undefined;
  private stopped = false;

  constructor(
    private readonly create: () => Consumer,
    private readonly start: (consumer: Consumer) => Promise<void>,
    private readonly log: Logger,
    private readonly onReplace: () => Promise<void> | void = () => {},
  ) {}

  /** The running consumer; undefined while one is being replaced. */
  get consumer(): Consumer | undefined {
    return this.current;
  }

  /** Starts the first consumer; throws when that fails (the caller's start fails). */
  async run(): Promise<void> {
    this.stopped = false;
    await this.launch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const consumer = this.current;
    this.current = undefined;
    await consumer?.disconnect();
  }

  private async launch(): Promise<void> {
    const consumer = this.create();
    this.current = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopped || consumer !== this.current) return;
      this.log.warn(
        { err: payload.error.message, groupId: payload.groupId },
        'consumer crashed for good; starting a new one',
      );
      setTimeout(() => void this.replace(consumer), 1000);
    });
    try {
      await this.start(consumer);
    } catch (err) {
      if (this.current === consumer) this.current = undefined;
      await consumer.disconnect().catch(() => {});
      throw err;
    }
    // Stopped (or given up for a new one) while it started: kafkajs would go on joining and fetching.
    if (this.stopped || consumer !== this.current) await consumer.disconnect().catch(() => {});
  }

  private async replace(old: Consumer): Promise<void> {
    if (this.stopped || old !== this.current) return;
    // One replacement at a time: from here on, reports about the old consumer are ignored.
    this.current = undefined;
    await old.disconnect().catch(() => {});
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.onReplace();
        await this.launch();
        this.log.info({ attempt }, 'new consumer started');
        return;
      } catch (err) {
        this.log[retriedLevel(err)](
          { err: (err as Error).message, attempt },
          'starting a new consumer failed; retrying',
        );
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }
}
