/** Scenario 0: no fault. Shows that the harness and the pipeline agree before any fault is injected. */
import { afterEach, expect, it } from 'vitest';
import { kafkaBrokers } from '@flowlogs/testkit';
import { openScenario, verify, type Scenario } from './harness.js';

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

it('delivers every record once without a fault', async () => {
  const started = Date.now();
  s = await openScenario('baseline', kafkaBrokers());
  await s.replay();

  const { ok, report } = await verify(s, started);
  expect(ok, report).toBe(true);
});
