/**
 * analysis/top over whole hours reads the hourly rollup the publisher keeps; the answers must be the
 * records' own, before the publisher folds the pending rows into the rollup and after. Records stored
 * through the publisher's insert path, answers from the API compared with the same query over the
 * records only, for every key and metric, over a range with partial edge hours.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '@flowlogs/contracts';
import { makeRecord } from '@flowlogs/testkit';
import { ensureDayPartitions, TOP_KEYS, type TopKey } from '@flowlogs/db';
import { rollupHours, topSql } from '../services/control-plane/src/analysis.js';
import { recordScope } from '../services/control-plane/src/search.js';
import { foldRollup, insertRecords } from '../services/publisher/src/store.js';
import { startStack, type Stack } from './support/stack.js';

const HOUR = 3600;
/** The first hour of the records; the range starts inside it and ends inside the fourth. */
const H = Date.UTC(2026, 0, 5, 10) / 1000;
const FROM = H + 1234;
const TO = H + 3 * HOUR + 777;
const METRICS = ['bytes', 'packets', 'flows'] as const;

let stack: Stack;
const ids: Record<string, string> = {};
let mine: FlowRecord[] = [];

/** Some records of every kind around and inside the range; `n` varies keys and counters so that some tie. */
function records(logTopicId: string, accountId: string, flowLogId: string): FlowRecord[] {
  const out: FlowRecord[] = [];
  let n = 0;
  const add = (windowStart: number, interval: number, over: Partial<FlowRecord> = {}) => {
    n++;
    out.push(
      makeRecord({
        accountId,
        interfaceId: `eni-${n % 4}`,
        srcaddr: n % 7 ? `10.16.0.${n % 13}` : `fd00:16::${n % 5}`,
        dstaddr: `192.0.2.${n % 9}`,
        srcport: 40_000 + (n % 17),
        dstport: [443, 53, 22, 8080][n % 4],
        protocol: [6, 17, 6, 1][n % 4],
        packets: 1 + (n % 5),
        bytes: 40 * (1 + (n % 6)),
        start: windowStart,
        end: windowStart + 1,
        action: n % 10 ? 'ACCEPT' : 'REJECT',
        windowStart,
        windowEnd: windowStart + interval,
        flowLogId,
        logTopicId,
        ...over,
      }),
    );
  };
  for (let t = H - 1200; t < H + 4 * HOUR; t += 60) {
    for (let i = 0; i < 3; i++) add(t, 60);
    if (t % 600 === 0) add(t, 600); // ten-minute windows: some start before FROM and overlap it
  }
  add(H + 2 * HOUR, 60, {
    srcaddr: null,
    dstaddr: null,
    srcport: null,
    dstport: null,
    protocol: null,
    packets: null,
    bytes: null,
    action: null,
    logStatus: 'NODATA',
  });
  add(H + 2 * HOUR, 60, { logStatus: 'SKIPDATA', skippedPackets: 3 });
  add(H + HOUR, 60, { srcport: null, dstport: null, bytes: null });
  return out;
}

beforeAll(async () => {
  // The stack's publisher does not fold while the test runs: it folds when the test says so.
  stack = await startStack({ FLOWLOGS_ROLLUP_FOLD_MS: String(3_600_000) });
  const post = async (path: string, body: unknown) => (await stack.api('POST', path, body)).body;
  const logset = await post('/v1/logsets', { name: 'l' });
  const topic = await post('/v1/log-topics', { logsetId: logset.id, name: 't' });
  const other = await post('/v1/log-topics', { logsetId: logset.id, name: 'other' });
  const { rows } = await stack.db.pool.query<{ account_id: string }>(
    'SELECT account_id FROM log_topics WHERE id = $1',
    [topic.id],
  );
  Object.assign(ids, { topic: topic.id, account: rows[0].account_id });
  mine = records(topic.id, ids.account, 'fl-mine');
  // Records of another log topic, and of another account in this one, which no answer may count.
  const all = [
    ...mine,
    ...records(other.id, ids.account, 'fl-other-topic'),
    ...records(topic.id, '999999999999', 'fl-other-account'),
  ];
  await ensureDayPartitions(
    stack.db.pool,
    all.map((r) => r.windowStart),
    new Set(),
  );
  expect(await insertRecords(stack.db.pool, all)).toBe(all.length);
});

afterAll(async () => stack?.stop());

describe('top over whole hours', () => {
  const scope = () => recordScope(ids.topic, ids.account, { from: FROM, to: TO }, TO);
  const fromRecords = async (by: TopKey, metric: (typeof METRICS)[number], limit: number) =>
    (await stack.db.pool.query(topSql(scope(), { by, metric, limit }, { rollup: false }))).rows;

  it('reads the rollup for this range', () => {
    expect(rollupHours(scope())).toEqual({ from: H + HOUR, to: H + 3 * HOUR });
  });

  it("answers as the records do, for every key and metric, before the rollup's fold and after", async () => {
    const pending = async () =>
      (await stack.db.pool.query('SELECT count(*)::int AS n FROM flow_rollup_pending')).rows[0].n;
    const okRecords = (await stack.db.pool.query("SELECT count(*)::int AS n FROM flow_records WHERE log_status = 'OK'"))
      .rows[0].n;
    expect(await pending()).toBe(okRecords);
    for (const state of ['pending', 'folded']) {
      if (state === 'folded') {
        expect(await foldRollup(stack.db.pool)).toBe(okRecords);
        expect(await pending()).toBe(0);
      }
      for (const by of Object.keys(TOP_KEYS) as TopKey[]) {
        for (const metric of METRICS) {
          for (const limit of [3, 1000]) {
            const answer = await stack.api(
              'GET',
              `/v1/log-topics/${ids.topic}/analysis/top?from=${FROM}&to=${TO}&by=${by}&metric=${metric}&limit=${limit}`,
            );
            expect(answer.status).toBe(200);
            expect(answer.body.items, `${state}: ${by} by ${metric}, limit ${limit}`).toEqual(
              await fromRecords(by, metric, limit),
            );
          }
        }
      }
    }
  });

  it('counts each OK record of the range once, keys typed as the records have them', async () => {
    const inRange = mine.filter((r) => r.logStatus === 'OK' && r.windowStart < TO && r.windowEnd > FROM);
    const { body } = await stack.api(
      'GET',
      `/v1/log-topics/${ids.topic}/analysis/top?from=${FROM}&to=${TO}&by=dstport&metric=flows&limit=1000`,
    );
    const flows = new Map<number | null, number>();
    for (const r of inRange) flows.set(r.dstport, (flows.get(r.dstport) ?? 0) + 1);
    expect(body.items.map((i: { key: number | null; flows: number }) => [i.key, i.flows])).toEqual(
      [...flows].sort((a, b) => b[1] - a[1] || (a[0] === null ? 1 : b[0] === null ? -1 : a[0] - b[0])),
    );
    const { body: byAddress } = await stack.api(
      'GET',
      `/v1/log-topics/${ids.topic}/analysis/top?from=${FROM}&to=${TO}&by=srcaddr&metric=bytes&limit=1`,
    );
    expect(typeof byAddress.items[0].key).toBe('string');
  });
});
