/** Scenario 2: `kill -9` of the publisher at a random moment while it stores and delivers, then a restart. */
import { afterEach, expect, it } from 'vitest';
import { kafkaBrokers } from '@flowlogs/testkit';
import { progressMonitor } from './cluster.js';
import { kill9, openScenario, scenarioSeed, sleep, verify, when, type Scenario } from './harness.js';

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

it('keeps every record once across a kill -9 of the publisher', async () => {
  const started = Date.now();
  const { random } = scenarioSeed('publisher-kill');
  s = await openScenario('publisher-kill', kafkaBrokers());
  const scenario = s;
  // A moment while the publisher works: once a random share of the records is in Postgres.
  const killAt = Math.floor(scenario.expected.length * (0.02 + 0.85 * random()));
  const downMs = Math.floor(500 + 2500 * random());
  scenario.note(`will kill -9 the publisher once ${killAt} records are in Postgres, restart it ${downMs} ms later`);
  const monitor = progressMonitor(() => scenario.pgCount(), scenario.expected.length);
  let killedAt = 0;
  const replay = scenario.replay();
  const fault = (async () => {
    let inPg = 0;
    if (!(await when(async () => (inPg = await scenario.pgCount()) >= killAt)))
      throw new Error(`never reached ${killAt} records in Postgres (at ${inPg})`);
    const victim = scenario.processes.find((x) => x.service === 'publisher' && x.alive())!;
    killedAt = Date.now();
    await kill9(victim);
    scenario.note(`killed ${victim.name} at ${inPg} records in Postgres`);
    await sleep(downMs);
    scenario.start('publisher');
  })();
  await Promise.all([replay, fault]);
  const { ok, report } = await verify(scenario, started);
  await monitor.stop();
  // The recovery time: the restarted publisher's start and its join of the group.
  scenario.note(`records stalled at most ${(monitor.stallAfter(killedAt) / 1000).toFixed(1)} s after the kill`);
  expect(ok, report).toBe(true);
});
