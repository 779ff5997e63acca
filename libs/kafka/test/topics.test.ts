/** Topics are made with the installation's replication, and a cluster too small for it is a clear error, not a hang. */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createKafka, ensureTopics, pipelineTopics, replicationProblem, topicConfig } from '../src/index.js';
import { kafkaBrokers, testLogger, uniquePrefix } from '@flowlogs/testkit';

const settings = (factor: number, minIsr: number) => ({
  KAFKA_PARTITIONS: 4,
  KAFKA_REPLICATION_FACTOR: factor,
  KAFKA_MIN_INSYNC_REPLICAS: minIsr,
});

describe('topic settings', () => {
  it('give every pipeline topic the factor and min.insync.replicas', () => {
    const topics = pipelineTopics(
      { packets: 'p', rules: 'r', logTopicSettings: 'lt', inventory: 'i', records: 'rec', dlq: 'd' },
      settings(3, 2),
    );
    expect(topics.map((t) => [t.topic, t.numPartitions, t.replicationFactor])).toEqual([
      ['p', 4, 3],
      ['r', 1, 3],
      ['lt', 1, 3],
      ['i', 1, 3],
      ['rec', 4, 3],
      ['d', 1, 3],
    ]);
    for (const t of topics) expect(t.configEntries).toContainEqual({ name: 'min.insync.replicas', value: '2' });
    for (const t of topics.slice(1, 4))
      expect(t.configEntries).toContainEqual({ name: 'cleanup.policy', value: 'compact' });
    const agents = pipelineTopics(
      { packets: 'p', rules: 'r', logTopicSettings: 'lt', inventory: 'i', records: 'rec', dlq: 'd' },
      settings(3, 2),
      ['packets', 'dlq'],
    );
    expect(agents.map((t) => t.topic)).toEqual(['p', 'd']);
  });

  it('name the setting that a cluster cannot meet', () => {
    expect(replicationProblem([topicConfig('t', settings(3, 2))], 3)).toBeUndefined();
    expect(replicationProblem([topicConfig('t', settings(3, 2))], 1)).toBe(
      'topic t needs 3 replicas (KAFKA_REPLICATION_FACTOR) but the cluster has 1 broker',
    );
    expect(replicationProblem([topicConfig('t', settings(2, 3))], 3)).toMatch(
      /3 replicas in sync \(KAFKA_MIN_INSYNC_REPLICAS\) of 2/,
    );
  });

  it('make ensureTopics fail at once on a broker too few, and create with one', async () => {
    const admin = createKafka(kafkaBrokers(), 'topics-test', testLogger()).admin();
    await admin.connect();
    try {
      const brokers = (await admin.describeCluster()).brokers.length;
      const topic = `${uniquePrefix()}.replicated`;
      const t = Date.now();
      await expect(ensureTopics(admin, [topicConfig(topic, settings(brokers + 1, 1))])).rejects.toThrow(
        `needs ${brokers + 1} replicas (KAFKA_REPLICATION_FACTOR) but the cluster has ${brokers}`,
      );
      expect(Date.now() - t).toBeLessThan(5000);
      expect(await admin.listTopics()).not.toContain(topic);
      await ensureTopics(admin, [topicConfig(topic, settings(1, 1))]);
      const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      expect(meta.partitions.length).toBe(4);
      const configs = await admin.describeConfigs({
        resources: [{ type: 2, name: topic, configNames: ['min.insync.replicas'] }],
        includeSynonyms: false,
      });
      expect(configs.resources[0].configEntries[0].configValue).toBe('1');
      await admin.deleteTopics({ topics: [topic] });
    } finally {
      await admin.disconnect();
    }
  });

  it('log no error when another service made a topic first (services starting together)', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const [first, second] = ['first', 'second'].map((id) =>
      createKafka(kafkaBrokers(), `topics-test-${id}`, log).admin(),
    );
    await Promise.all([first.connect(), second.connect()]);
    try {
      const topic = `${uniquePrefix()}.shared`;
      await ensureTopics(first, [topicConfig(topic, settings(1, 1))]);
      // What the second service's ensureTopics does when its listTopics came before the first's creation.
      expect(await second.createTopics({ topics: [topicConfig(topic, settings(1, 1))] })).toBe(false);
      expect(lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
      await first.deleteTopics({ topics: [topic] });
    } finally {
      await Promise.all([first.disconnect(), second.disconnect()]);
    }
  });
});
