/**
 * Three brokers (ports 19100–19105, test-output/faults/kafka-broker-leader-restart/); mid-stream,
 * the broker leading most partitions of the packets and records topics is killed (`kill -9`) and
 * started again 10 s later. Prints how long records stalled.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { topicNames } from '@flowlogs/contracts';
import { startLocalKafkaBroker, stopLocalKafka, stopLocalKafkaBroker } from '@flowlogs/local-kafka';
import { busiestLeader, describeCounts, localKafkaOptions, progressMonitor, startFreshKafka } from './cluster.js';
import { CLUSTER_ENV, openScenario, scenarioSeed, sleep, verify, type Scenario } from './harness.js';

const kafkaOpts = localKafkaOptions('broker-leader-restart', 19100, 3);

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});
afterAll(async () => {
  await stopLocalKafka(kafkaOpts);
});

it('keeps every record once when the busiest leader is killed and back 10 s later', async () => {
  const started = Date.now();
  const { random } = scenarioSeed('broker-leader-restart');
  s = await openScenario('broker-leader-restart', await startFreshKafka(kafkaOpts), { env: CLUSTER_ENV });
  const scenario = s;
  const killAt = Math.floor(scenario.capture.packets * (0.1 + 0.8 * random()));
  scenario.note(
    `will kill -9 the broker leading most packets and records partitions once the agent has read ${killAt} packets`,
  );
  const monitor = progressMonitor(() => scenario.pgCount(), scenario.expected.length);
  let killedAt = 0;
  let fault: Promise<void> | undefined;
  const replay = scenario.replay((p) => {
    if (fault || p.frames < killAt) return;
    fault = (async () => {
      const names = topicNames(scenario.prefix);
      const { id, counts } = await busiestLeader(scenario.kafka, [names.packets, names.records]);
      const inPg = await scenario.pgCount();
      killedAt = Date.now();
      await stopLocalKafkaBroker(kafkaOpts, id, { kill: true });
      scenario.note(
        `killed broker ${id} at ${p.frames} packets read, ${inPg} records in Postgres (leaders: ${describeCounts(counts)})`,
      );
      await sleep(10_000);
      await startLocalKafkaBroker(kafkaOpts, id);
      scenario.note(`broker ${id} answers again, ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
    })();
  });
  await replay;
  expect(fault, 'the fault was injected').toBeDefined();
  await fault;
  const { ok, report } = await verify(scenario, started);
  await monitor.stop();
  scenario.note(`records stalled at most ${(monitor.stallAfter(killedAt) / 1000).toFixed(1)} s after the kill`);
  expect(ok, report).toBe(true);
});
