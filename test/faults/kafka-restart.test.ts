/**
 * Scenario 3: the Kafka broker stopped and started again while the pipeline works. A broker of the
 * test's own (port 19093, data under test-output/faults/kafka-kafka-restart/), so the shared one is untouched.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { ensureLocalKafka, stopLocalKafka } from '@flowlogs/local-kafka';
import { localKafkaOptions, startFreshKafka } from './cluster.js';
import { openScenario, scenarioSeed, sleep, verify, type Scenario } from './harness.js';

const brokerOpts = localKafkaOptions('kafka-restart', 19093);

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});
afterAll(async () => {
  await stopLocalKafka(brokerOpts);
});

it('keeps every record once across a broker stop and start', async () => {
  const started = Date.now();
  const { random } = scenarioSeed('kafka-restart');
  const brokers = await startFreshKafka(brokerOpts);
  s = await openScenario('kafka-restart', brokers);
  const scenario = s;
  const stopAt = Math.floor(scenario.capture.packets * (0.1 + 0.8 * random()));
  const downMs = Math.floor(2000 + 6000 * random());
  scenario.note(
    `will stop the broker once the agent has read ${stopAt} packets, start it again ${downMs} ms after it exited`,
  );
  let fault: Promise<void> | undefined;
  const replay = scenario.replay((p) => {
    if (fault || p.frames < stopAt) return;
    fault = (async () => {
      const inPg = await scenario.pgCount();
      const t = Date.now();
      await stopLocalKafka(brokerOpts);
      scenario.note(`broker stopped in ${Date.now() - t} ms at ${p.frames} packets read, ${inPg} records in Postgres`);
      await sleep(downMs);
      await ensureLocalKafka(brokerOpts);
      scenario.note('broker started again');
    })();
  });
  await replay;
  expect(fault, 'the fault was injected').toBeDefined();
  await fault;
  const { ok, report } = await verify(scenario, started);
  expect(ok, report).toBe(true);
});
