/**
 * kafkajs's request queue, as @flowlogs/kafka installs it, schedules no check while nothing is
 * pending (kafkajs's own reschedules one forever, about every millisecond), and still sends what
 * waits: behind the in-flight limit when a response comes, behind a throttle when it ends.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { kafkaBrokers, testLogger, uniquePrefix } from '@flowlogs/testkit';
import { createKafka, idleRequestQueueInstalled, reliableProducer } from '../src/index.js';
import { kafkajsRequestQueue, type RequestQueue, type RequestQueueClass } from '../src/idle-request-queue.js';

const require = createRequire(import.meta.url);
const Installed = require('kafkajs/src/network/requestQueue/index.js') as RequestQueueClass;

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const queues: RequestQueue[] = [];
afterEach(() => {
  for (const q of queues.splice(0)) q.destroy();
});

function queueOf(Queue: RequestQueueClass, maxInFlightRequests: number | null = null) {
  const queue = new Queue({
    maxInFlightRequests,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'test',
    broker: '127.0.0.1:9092',
    logger: quiet,
  }) as RequestQueue & {
    push(request: unknown): void;
    fulfillRequest(response: { correlationId: number; payload: null; size: number }): void;
    maybeThrottle(ms: number): void;
  };
  queues.push(queue);
  const sent: number[] = [];
  const push = (correlationId: number) =>
    queue.push({
      entry: { correlationId, resolve() {}, reject() {} },
      expectResponse: true,
      sendRequest: () => sent.push(correlationId),
    });
  return { queue, sent, push };
}

/** How many times the queue checks its pending requests in `ms` after a response with nothing else to send. */
async function checksWhileIdle(Queue: RequestQueueClass, ms: number): Promise<number> {
  const { queue, push } = queueOf(Queue);
  let checks = 0;
  const check = queue.checkPendingRequests.bind(queue);
  queue.checkPendingRequests = () => {
    checks++;
    check();
  };
  push(1);
  queue.fulfillRequest({
    correlationId: 1,
    payload: null,
    size: 0,
  });
  checks = 0;
  await new Promise((r) => setTimeout(r, ms));
  return checks;
}

describe('the request queue kafkajs uses', () => {
  it('is installed: kafkajs loads the subclass', () => {
    expect(idleRequestQueueInstalled).toBe(true);
    expect(Installed.name).toBe('IdleRequestQueue');
  });

  it("checks nothing while nothing is pending, where kafkajs's own checks again and again", async () => {
    expect(await checksWhileIdle(kafkajsRequestQueue(), 100)).toBeGreaterThan(10);
    expect(await checksWhileIdle(Installed, 100)).toBe(0);
  });

  it('sends a request held back by the in-flight limit when a response comes', async () => {
    const { queue, sent, push } = queueOf(Installed, 1);
    push(1);
    push(2);
    expect(sent).toEqual([1]);
    expect(queue.pending).toHaveLength(1);
    queue.fulfillRequest({
      correlationId: 1,
      payload: null,
      size: 0,
    });
    expect(sent).toEqual([1, 2]);
    // The check scheduled while it waited runs once, finds nothing, and schedules no other.
    await new Promise((r) => setTimeout(r, 50));
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });

  it('sends a request held back by a throttle once it ends', async () => {
    const { queue, sent, push } = queueOf(Installed);
    queue.maybeThrottle(40);
    push(1);
    expect(sent).toEqual([]);
    expect(queue.throttleCheckTimeoutId).not.toBeNull();
    await new Promise((r) => setTimeout(r, 120));
    expect(sent).toEqual([1]);
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });

  it('carries a transaction to the real broker and back', async () => {
    const kafka = createKafka(kafkaBrokers(), 'idle-queue-test', testLogger());
    const topic = `${uniquePrefix()}.idle-queue`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = reliableProducer(kafka, `${topic}.${randomBytes(3).toString('hex')}`);
    await producer.connect();
    try {
      for (let round = 0; round < 3; round++) {
        const tx = await producer.transaction();
        await tx.send({ topic, messages: [{ key: `k${round}`, value: `v${round}` }] });
        await tx.commit();
      }
      const [offsets] = await admin.fetchTopicOffsets(topic);
      // Three messages and three commit markers.
      expect(offsets.high).toBe('6');
    } finally {
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  });
});
