/**
 * Scaling a consumer group while traffic flows: a second aggregator (publisher) joins, then one of
 * the two leaves gracefully (SIGTERM: it leaves the group at once, no session timeout). Each
 * rebalance makes every member drop its partitions' state and replay them from the committed
 * offsets; the scenario prints how long records stalled after each, and how much was replayed.
 */
import { afterEach, expect, it } from 'vitest';
import { kafkaBrokers } from '@flowlogs/testkit';
import { progressMonitor } from './cluster.js';
import {
  metricsSampler,
  openScenario,
  scenarioSeed,
  sleep,
  term,
  verify,
  when,
  type Scenario,
  type ServiceProcess,
} from './harness.js';

let s: Scenario | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

type Role = 'aggregator' | 'publisher';
/** The counter that grows with the work of an instance of the role. */
const WORK: Record<Role, string> = {
  aggregator: 'flowlogs_aggregator_packets_total',
  publisher: 'flowlogs_publisher_records_total',
};

/** Packet batches a second from the agent: the capture (245 batches) takes about 40 s, so traffic goes on across both rebalances. */
const BATCHES_PER_SECOND = 6;

async function scaleOutAndIn(role: Role): Promise<void> {
  const started = Date.now();
  const name = `${role}-scaling`;
  const { random } = scenarioSeed(name);
  s = await openScenario(name, kafkaBrokers(), { start: false });
  const scenario = s;
  const other: Role = role === 'aggregator' ? 'publisher' : 'aggregator';
  const a = await scenario.startObserved(role, `${role}-a`);
  await scenario.startObserved(other, `${other}-a`);
  const metrics = metricsSampler(() => scenario.processes);
  // The first instance in its group before the packets come.
  await sleep(8000);
  const records = scenario.expected.length;
  const packets = scenario.capture.packets;
  // Moments in the traffic: shares of the capture read by the aggregators.
  const read = () => metrics.total(WORK.aggregator);
  const joinAt = Math.floor(packets * (0.1 + 0.2 * random()));
  const leaveAt = Math.floor(packets * (0.55 + 0.25 * random()));
  scenario.note(
    `${BATCHES_PER_SECOND} packet batches a second; a second ${role} joins at ${joinAt} packets read, the busier one leaves (SIGTERM) at ${leaveAt}`,
  );
  const stored = progressMonitor(() => scenario.pgCount(), records);
  // The role's own progress: packets read (replays included), records delivered.
  const work = progressMonitor(async () => metrics.total(WORK[role]), Number.POSITIVE_INFINITY);
  const at = { join: 0, leave: 0, replayed: 0 };
  const replay = scenario.replay(undefined, { batchesPerSecond: BATCHES_PER_SECOND }).then(() => {
    at.replayed = Date.now();
  });
  const fault = (async () => {
    if (!(await when(async () => read() >= joinAt))) throw new Error(`never reached ${joinAt} packets read`);
    at.join = Date.now();
    const b = await scenario.startObserved(role, `${role}-b`);
    scenario.note(`${b.name} joining (${read()} packets read)`);
    // The leave is a rebalance of its own only once the join's is over: b is ready once it has joined.
    await when(
      async () => (await fetch(b.metricsUrl!.replace('/metrics', '/readyz')).catch(() => undefined))?.ok === true,
    );
    scenario.note(`${b.name} ready ${((Date.now() - at.join) / 1000).toFixed(1)} s after its start`);
    if (!(await when(async () => read() >= leaveAt))) throw new Error(`never reached ${leaveAt} packets read`);
    // The instance whose work grows is the one holding the busy partitions.
    const before = [metrics.of(a, WORK[role]), metrics.of(b, WORK[role])];
    await sleep(1000);
    const grew = [metrics.of(a, WORK[role]) - before[0], metrics.of(b, WORK[role]) - before[1]];
    const victim: ServiceProcess = grew[0] >= grew[1] ? a : b;
    const was = read();
    at.leave = Date.now();
    await term(victim);
    scenario.note(
      `${victim.name} left (SIGTERM; exited in ${((Date.now() - at.leave) / 1000).toFixed(1)} s; ${WORK[role]} in the last second: a ${grew[0]}, b ${grew[1]}; at ${was} packets read, ${await scenario.pgCount()} records in Postgres)`,
    );
  })();
  await Promise.all([replay, fault]);
  const { ok, report } = await verify(scenario, started);
  await Promise.all([stored.stop(), work.stop(), metrics.stop()]);
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  // The role's work is over when its input is: the replay's end (aggregators), every record stored (publishers).
  const workEnd = role === 'aggregator' ? at.replayed : stored.doneAt();
  if (at.leave > workEnd) scenario.note(`the leave came after the ${role}s' input ended: its pause is not measured`);
  scenario.note(
    `${role} work (${WORK[role]}) paused at most ${sec(work.stallAfter(at.join, at.leave))} after the join, ${sec(work.stallAfter(at.leave, workEnd))} after the graceful leave; records in Postgres stalled at most ${sec(stored.stallAfter(at.join, at.leave))}, ${sec(stored.stallAfter(at.leave))} (a window closes every ~${sec((60 * 1000 * packets) / (4096 * BATCHES_PER_SECOND) / scenario.capture.params.durationSec)} here)`,
  );
  if (role === 'aggregator') {
    const total = read();
    scenario.note(
      `replayed from committed offsets: the aggregators read ${total} packets for the capture's ${packets} (${total - packets} twice, ${((100 * (total - packets)) / packets).toFixed(0)}%), emitted ${metrics.total('flowlogs_aggregator_records_total')} records for ${records}`,
    );
  } else {
    scenario.note(
      `replayed from committed offsets: the publishers stored ${metrics.total('flowlogs_publisher_duplicate_records_total')} records again (already in Postgres: not inserted twice), delivered ${metrics.total('flowlogs_publisher_records_total')} for ${records}`,
    );
  }
  expect(ok, report).toBe(true);
}

it('keeps every record once when a second aggregator joins and one leaves gracefully', () =>
  scaleOutAndIn('aggregator'));

it('keeps every record once when a second publisher joins and one leaves gracefully', () => scaleOutAndIn('publisher'));
