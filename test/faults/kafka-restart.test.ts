/**
 * Scenario 3: the Kafka broker stopped and started again while the pipeline works. A broker of the
 * test's own (port 19093, data under test-output/faults/kafka-3/), so the shared one is untouched.
 */
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { ensureLocalKafka, stopLocalKafka, type LocalKafkaOptions } from '@flowlogs/local-kafka';
import { OUT, ROOT, openScenario, scenarioSeed, sleep, verify, type Scenario } from './harness.js';

const PORT = 19093;
const cacheDir = join(OUT, 'kafka-3');
const brokerOpts: LocalKafkaOptions = { port: PORT, cacheDir, heap: '384m', log: (m) => console.log(`[faults] kafka-restart broker: ${m}`) };

let s: Scenario | undefined;
afterEach(async () => { await s?.close(); s = undefined; });
afterAll(async () => { await stopLocalKafka(brokerOpts); });

/** A fresh broker of our own; the jars are the repo's (.cache/kafka/jars), linked rather than resolved again. */
async function startOwnBroker(): Promise<string[]> {
  await stopLocalKafka(brokerOpts);
  rmSync(cacheDir, { recursive: true, force: true });
  mkdirSync(join(cacheDir, 'kafka'), { recursive: true });
  const sharedJars = join(ROOT, '.cache', 'kafka', 'jars');
  if (existsSync(join(sharedJars, '.resolved'))) symlinkSync(sharedJars, join(cacheDir, 'kafka', 'jars'));
  const kafka = await ensureLocalKafka(brokerOpts);
  return kafka.brokers;
}

it('keeps every record once across a broker stop and start', async () => {
  const started = Date.now();
  const { random } = scenarioSeed('kafka-restart');
  const brokers = await startOwnBroker();
  s = await openScenario('kafka-restart', brokers);
  const scenario = s;
  const stopAt = Math.floor(scenario.capture.packets * (0.1 + 0.8 * random()));
  const downMs = Math.floor(2000 + 6000 * random());
  scenario.note(`will stop the broker once the agent has read ${stopAt} packets, start it again ${downMs} ms after it exited`);
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
