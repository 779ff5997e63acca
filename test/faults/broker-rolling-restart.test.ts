/**
 * Three brokers (ports 19120–19125, test-output/faults/kafka-broker-rolling-restart/); once traffic
 * flows, each broker in turn is stopped (SIGTERM: a controlled shutdown, as an upgrade does) and
 * started again, the next only once every partition has all its replicas in sync again.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { startLocalKafkaBroker, stopLocalKafka, stopLocalKafkaBroker } from '@flowlogs/local-kafka';
import { localKafkaOptions, progressMonitor, startFreshKafka, underReplicated } from './cluster.js';
import { CLUSTER_ENV, openScenario, scenarioSeed, verify, when, type Scenario } from './harness.js';

const kafkaOpts = localKafkaOptions('broker-rolling-restart', 19120, 3);

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});
afterAll(async () => {
  await stopLocalKafka(kafkaOpts);
});

it('keeps every record once across a rolling restart of the three brokers', async () => {
  const started = Date.now();
  const { random } = scenarioSeed('broker-rolling-restart');
  s = await openScenario('broker-rolling-restart', await startFreshKafka(kafkaOpts), { env: CLUSTER_ENV });
  const scenario = s;
  const startAt = Math.floor(scenario.capture.packets * (0.05 + 0.25 * random()));
  scenario.note(`will restart brokers 1, 2, 3 in turn once the agent has read ${startAt} packets`);
  const monitor = progressMonitor(() => scenario.pgCount(), scenario.expected.length);
  let rollStarted = 0;
  let fault: Promise<void> | undefined;
  const replay = scenario.replay((p) => {
    if (fault || p.frames < startAt) return;
    rollStarted = Date.now();
    fault = (async () => {
      for (const id of [1, 2, 3]) {
        const t = Date.now();
        await stopLocalKafkaBroker(kafkaOpts, id);
        const stopped = Date.now() - t;
        await startLocalKafkaBroker(kafkaOpts, id);
        const back = Date.now() - t;
        const synced = await when(async () => (await underReplicated(scenario.kafka)) === 0, 120_000);
        scenario.note(
          `broker ${id}: stopped in ${stopped} ms, answering after ${back} ms, replicas ${synced ? '' : 'NOT '}in sync after ${Date.now() - t} ms; ${await scenario.pgCount()} records in Postgres`,
        );
      }
    })();
  });
  await replay;
  expect(fault, 'the fault was injected').toBeDefined();
  await fault;
  const { ok, report } = await verify(scenario, started);
  await monitor.stop();
  scenario.note(
    `records stalled at most ${(monitor.stallAfter(rollStarted) / 1000).toFixed(1)} s during and after the restarts`,
  );
  expect(ok, report).toBe(true);
});
