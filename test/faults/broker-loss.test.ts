/**
 * Three brokers (ports 19110–19115, test-output/faults/kafka-broker-loss/); the one leading most of the log
 * topic's partitions is killed (`kill -9`) while records are being delivered, and never comes back:
 * the pipeline goes on with two. Issue 17: records were missing from the log topic's Kafka topic
 * after this. Prints how long records stalled.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { stopLocalKafka, stopLocalKafkaBroker } from '@flowlogs/local-kafka';
import { busiestLeader, describeCounts, localKafkaOptions, progressMonitor, startFreshKafka } from './cluster.js';
import { CLUSTER_ENV, openScenario, scenarioSeed, verify, when, type Scenario } from './harness.js';

const kafkaOpts = localKafkaOptions('broker-loss', 19110, 3);

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});
afterAll(async () => {
  await stopLocalKafka(kafkaOpts);
});

it("keeps every record once when the log topic's leader dies for good mid-delivery", async () => {
  const started = Date.now();
  const { random } = scenarioSeed('broker-loss');
  s = await openScenario('broker-loss', await startFreshKafka(kafkaOpts), { env: CLUSTER_ENV });
  const scenario = s;
  const killAt = Math.floor(scenario.expected.length * (0.05 + 0.8 * random()));
  scenario.note(
    `will kill -9 the broker leading most of ${scenario.kafkaTopic}'s partitions once ${killAt} records are in Postgres`,
  );
  const monitor = progressMonitor(() => scenario.pgCount(), scenario.expected.length);
  let killedAt = 0;
  const fault = (async () => {
    let inPg = 0;
    if (!(await when(async () => (inPg = await scenario.pgCount()) >= killAt)))
      throw new Error(`never reached ${killAt} records in Postgres (at ${inPg})`);
    const { id, counts } = await busiestLeader(scenario.kafka, [scenario.kafkaTopic]);
    killedAt = Date.now();
    await stopLocalKafkaBroker(kafkaOpts, id, { kill: true });
    scenario.note(
      `killed broker ${id} for good at ${inPg} records in Postgres (log topic leaders: ${describeCounts(counts)})`,
    );
  })();
  await Promise.all([scenario.replay(), fault]);
  const { ok, report } = await verify(scenario, started);
  await monitor.stop();
  scenario.note(`records stalled at most ${(monitor.stallAfter(killedAt) / 1000).toFixed(1)} s after the broker died`);
  expect(ok, report).toBe(true);
});
