/** Scenario 1: `kill -9` of the aggregator at a random moment while it processes the capture, then a restart. */
import { afterEach, expect, it } from 'vitest';
import { kafkaBrokers } from '@flowlogs/testkit';
import { kill9, openScenario, scenarioSeed, sleep, verify, type Scenario } from './harness.js';

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

it('keeps every record once across a kill -9 of the aggregator', async () => {
  const started = Date.now();
  const { random } = scenarioSeed('aggregator-kill');
  s = await openScenario('aggregator-kill', kafkaBrokers());
  const scenario = s;
  // A moment while the aggregator works: once the agent has read a random share of the capture,
  // plus a random delay (the aggregator keeps processing for a few seconds after the replay ends).
  const killAt = Math.floor(scenario.capture.packets * (0.1 + 0.9 * random()));
  const delayMs = Math.floor(3000 * random());
  const downMs = Math.floor(500 + 2500 * random());
  scenario.note(
    `will kill -9 the aggregator ${delayMs} ms after the agent has read ${killAt} packets, restart it ${downMs} ms later`,
  );
  let fault: Promise<void> | undefined;
  const replay = scenario.replay((p) => {
    if (fault || p.frames < killAt) return;
    fault = (async () => {
      await sleep(delayMs);
      const victim = scenario.processes.find((x) => x.service === 'aggregator' && x.alive())!;
      const inPg = await scenario.pgCount();
      await kill9(victim);
      scenario.note(`killed ${victim.name} (${inPg} records in Postgres then)`);
      await sleep(downMs);
      scenario.start('aggregator');
    })();
  });
  await replay;
  expect(fault, 'the fault was injected').toBeDefined();
  await fault;
  const { ok, report } = await verify(scenario, started);
  expect(ok, report).toBe(true);
});
