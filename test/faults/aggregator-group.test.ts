/**
 * Scenario 5: two aggregator instances in the group; the one doing the work is killed with
 * `kill -9` during processing and not restarted: the other takes its partitions over.
 */
import { afterEach, expect, it } from 'vitest';
import { kafkaBrokers } from '@flowlogs/testkit';
import { progressMonitor } from './cluster.js';
import { cpuSeconds, kill9, openScenario, scenarioSeed, sleep, verify, type Scenario } from './harness.js';

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

it('keeps every record once when one of two aggregators is killed', async () => {
  const started = Date.now();
  const { random } = scenarioSeed('aggregator-group');
  s = await openScenario('aggregator-group', kafkaBrokers(), { start: false });
  const scenario = s;
  const a = scenario.start('aggregator', 'aggregator-a');
  const b = scenario.start('aggregator', 'aggregator-b');
  scenario.start('publisher');
  // Both in the group before the packets come (a join after would move partitions anyway).
  await sleep(8000);
  const killAt = Math.floor(scenario.capture.packets * (0.1 + 0.9 * random()));
  const delayMs = Math.floor(2000 * random());
  scenario.note(`will kill -9 the busier aggregator ${delayMs} ms after the agent has read ${killAt} packets`);
  const monitor = progressMonitor(() => scenario.pgCount(), scenario.expected.length);
  let killedAt = 0;
  let fault: Promise<void> | undefined;
  const replay = scenario.replay((p) => {
    if (fault || p.frames < killAt) return;
    fault = (async () => {
      const before = [cpuSeconds(a.child.pid), cpuSeconds(b.child.pid)];
      await sleep(Math.max(500, delayMs));
      const used = [cpuSeconds(a.child.pid) - before[0], cpuSeconds(b.child.pid) - before[1]];
      // One ENI's packets are on one partition: the instance that owns it is the one using the CPU.
      const victim = used[0] >= used[1] ? a : b;
      const inPg = await scenario.pgCount();
      killedAt = Date.now();
      await kill9(victim);
      scenario.note(
        `killed ${victim.name} (CPU in the last ${Math.max(500, delayMs)} ms: a ${used[0].toFixed(2)} s, b ${used[1].toFixed(2)} s; ${inPg} records in Postgres then)`,
      );
    })();
  });
  await replay;
  expect(fault, 'the fault was injected').toBeDefined();
  await fault;
  const { ok, report } = await verify(scenario, started);
  await monitor.stop();
  // The recovery time: the other aggregator takes the partitions over once the group drops the killed one.
  scenario.note(`records stalled at most ${(monitor.stallAfter(killedAt) / 1000).toFixed(1)} s after the kill`);
  expect(ok, report).toBe(true);
});
