/**
 * analysis/top and analysis/histogram read the rollups the publisher keeps; the answers must be the
 * records' own: before the publisher folds the pending rows, after, once the slots are sealed (a
 * sealed slot keeps only its busiest keys), after late records came to a sealed slot, and with a
 * record committed while a fold sealed its slot (each record counted once). Records
 * stored through the publisher's insert path, answers from the API compared with the same query over
 * the records only, for every key and metric, over ranges with partial slots at both ends and with
 * whole days; filters either use the rollups or say they read the records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '@flowlogs/contracts';
import { makeRecord } from '@flowlogs/testkit';
import { DAY, ensureDayPartitions, SLOT_KEEP, TOP_KEYS, type TopKey } from '@flowlogs/db';
import {
  histogramBuckets,
  histogramSql,
  histogramStep,
  topRecordsSql,
} from '../services/control-plane/src/analysis.js';
import { recordScope } from '../services/control-plane/src/search.js';
import { parseQuery } from '../services/control-plane/src/query/index.js';
import { foldRollup, insertRecords } from '../services/publisher/src/store.js';
import { startStack, type Stack } from './support/stack.js';

const HOUR = 3600;
/** The first hour of the records; the range starts inside it and ends inside the fourth. */
const H = Date.UTC(2026, 0, 5, 10) / 1000;
const FROM = H + 1234;
const TO = H + 3 * HOUR + 777;
/** A range holding the whole UTC day after H's (sparse records there) and partial slots at both ends. */
const DAYS_FROM = H + 4 * HOUR - 1500;
const DAYS_TO = H - (H % DAY) + 2 * DAY + 1234;
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
  // The next day, every 10 minutes (sparse), and into the day after.
  for (let t = H - (H % DAY) + DAY; t < DAYS_TO + 600; t += 600) add(t, 60);
  // One slot with more keys than a sealed slot keeps: most are dropped when it is sealed.
  for (let i = 0; i < 3 * SLOT_KEEP; i++)
    add(H + 2 * HOUR + 600, 60, {
      srcaddr: `10.99.${i >> 8}.${i & 255}`,
      srcport: 1000 + i,
      bytes: 1000 + i,
      packets: 1 + (i % 3),
    });
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

describe('analysis from the rollups', () => {
  const scope = (from = FROM, to = TO, q?: string) =>
    recordScope(ids.topic, ids.account, { from, to, q: q === undefined ? undefined : parseQuery(q) }, to);
  const fromRecords = async (
    by: TopKey,
    metric: (typeof METRICS)[number],
    limit: number,
    from = FROM,
    to = TO,
    q?: string,
  ) => (await stack.db.pool.query(topRecordsSql(scope(from, to, q), { by, metric, limit }))).rows;
  const histogramFromRecords = async (from: number, to: number, q?: string) => {
    const sc = scope(from, to, q);
    const step = histogramStep(sc, { buckets: 60 });
    return histogramBuckets(
      (await stack.db.pool.query(histogramSql(sc, step, { rollup: false }))).rows,
      sc,
      step,
      'records',
    ).buckets;
  };
  const pending = async () =>
    (await stack.db.pool.query('SELECT count(*)::int AS n FROM flow_rollup_pending')).rows[0].n;
  /** The srcaddr level of the log topic's slot: a kept key's bytes and flows, and the slot's seal and bytes bound. */
  const keptInSlot = async (slot: number, key: string) =>
    (
      await stack.db.pool.query<{ bytes: number; flows: number }>(
        "SELECT bytes::int, flows::int FROM flow_rollup_slot WHERE dimension = 'srcaddr' AND slot = $1 AND key = $2 AND log_topic_id = $3 AND account_id = $4",
        [slot, key, ids.topic, ids.account],
      )
    ).rows[0];
  const rest = async (slot: number) =>
    (
      await stack.db.pool.query<{ sealed: boolean; bytes_max: number }>(
        "SELECT sealed, bytes_max::int FROM flow_rollup_slot_rest WHERE dimension = 'srcaddr' AND slot = $1 AND log_topic_id = $2 AND account_id = $3",
        [slot, ids.topic, ids.account],
      )
    ).rows[0];
  const sources = new Set<string>();
  /** The filtered top-Ns that named keys (an empty answer equal to the records' proves little). */
  const filteredAnswered = new Set<string>();

  /** Every key and metric over the ranges (both by default), and histograms: the API's answers equal the records'. */
  async function answersAsRecords(
    state: string,
    ranges = [
      [FROM, TO],
      [DAYS_FROM, DAYS_TO],
    ],
  ): Promise<void> {
    for (const [from, to] of ranges) {
      for (const by of Object.keys(TOP_KEYS) as TopKey[]) {
        for (const metric of METRICS) {
          for (const limit of [3, 1000]) {
            const answer = await stack.api(
              'GET',
              `/v1/log-topics/${ids.topic}/analysis/top?from=${from}&to=${to}&by=${by}&metric=${metric}&limit=${limit}`,
            );
            expect(answer.status).toBe(200);
            sources.add(answer.body.source);
            expect(answer.body.items, `${state}: ${by} by ${metric}, limit ${limit}, ${from}–${to}`).toEqual(
              await fromRecords(by, metric, limit, from, to),
            );
          }
        }
      }
      // Protocols and actions come from the series, with a query on those and on a well-known port
      // too; other keys from the levels' REJECT facet with exactly that query; other queries from the
      // records.
      for (const [by, q, source] of [
        ['protocol', 'NOT action:REJECT', 'rollups'],
        ['action', 'protocol:6 OR protocol:17', 'rollups'],
        ['protocol', 'dstport:443', 'rollups'],
        ['action', 'NOT srcport:1001', 'rollups'],
        ['protocol', 'dstport:8080', 'records'],
        ['srcaddr', 'action:REJECT', 'rollups'],
        ['dstport', 'action:REJECT', 'rollups'],
        ['srcaddr', 'action:REJECT protocol:6', 'records'],
      ] as const) {
        const answer = await stack.api(
          'GET',
          `/v1/log-topics/${ids.topic}/analysis/top?from=${from}&to=${to}&by=${by}&limit=1000&q=${encodeURIComponent(q)}`,
        );
        expect(answer.body.source, `${by} ${q}`).toBe(source);
        expect(answer.body.items, `${state}: ${by}, q=${q}`).toEqual(await fromRecords(by, 'bytes', 1000, from, to, q));
        if (answer.body.items.length) filteredAnswered.add(`${by} ${q}`);
      }
      for (const [q, source] of [
        [undefined, 'rollups'],
        ['action:REJECT', 'rollups'],
        ['NOT protocol:6', 'rollups'],
        ['dstport:443', 'rollups'],
        ['NOT dstport:22 AND protocol:6', 'rollups'],
        ['dstport:8080', 'records'],
      ] as const) {
        const answer = await stack.api(
          'GET',
          `/v1/log-topics/${ids.topic}/analysis/histogram?from=${from}&to=${to}&buckets=60${q ? `&q=${encodeURIComponent(q)}` : ''}`,
        );
        expect(answer.body.source, `${q}`).toBe(source);
        expect(answer.body.buckets, `${state}: histogram ${q}`).toEqual(await histogramFromRecords(from, to, q));
      }
    }
  }

  it('answers as the records do: pending, folded, sealed, and with late records in a sealed slot', async () => {
    const okRecords = (await stack.db.pool.query("SELECT count(*)::int AS n FROM flow_records WHERE log_status = 'OK'"))
      .rows[0].n;
    expect(await pending()).toBe(okRecords);
    await answersAsRecords('pending');
    expect([...filteredAnswered].sort()).toEqual([
      'action NOT srcport:1001',
      'action protocol:6 OR protocol:17',
      'dstport action:REJECT',
      'protocol NOT action:REJECT',
      'protocol dstport:443',
      'protocol dstport:8080',
      'srcaddr action:REJECT',
      'srcaddr action:REJECT protocol:6',
    ]);
    // Folded, the slots still open (not sealed: records came to them just now), their part read from the records.
    expect(await foldRollup(stack.db.pool)).toEqual({ folded: okRecords, late: 0, retried: 0 });
    expect(await pending()).toBe(0);
    expect(
      (await stack.db.pool.query('SELECT count(*)::int AS n FROM flow_rollup_slot_rest WHERE sealed')).rows[0].n,
    ).toBe(0);
    expect((await stack.db.pool.query('SELECT count(*)::int AS n FROM flow_rollup_slot')).rows[0].n).toBe(0);
    // A publisher of the version before, folding meanwhile, would leave keys in an open slot: the
    // answers ignore them, the seal replaces them.
    const stale = { slot: H + HOUR, key: '10.16.0.1' };
    await stack.db.pool.query(
      "INSERT INTO flow_rollup_slot (log_topic_id, account_id, dimension, slot, key, bytes, packets, flows) VALUES ($1, $2, 'srcaddr', $3, $4, 1000000000, 1, 1)",
      [ids.topic, ids.account, stale.slot, stale.key],
    );
    await answersAsRecords('folded');
    // Sealed: the crowded slot drops keys; the answers stay the records'.
    await foldRollup(stack.db.pool, 0);
    const kept = await stack.db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM flow_rollup_slot WHERE dimension = 'srcaddr' AND slot = $1 AND log_topic_id = $2 AND account_id = $3",
      [H + 2 * HOUR + 600, ids.topic, ids.account],
    );
    expect(kept.rows[0].n).toBeLessThan(3 * SLOT_KEEP);
    expect(kept.rows[0].n).toBeGreaterThanOrEqual(SLOT_KEEP);
    const { rows: truth } = await stack.db.pool.query(
      "SELECT sum(bytes)::int AS bytes, count(*)::int AS flows FROM flow_records WHERE log_topic_id = $1 AND account_id = $2 AND log_status = 'OK' " +
        'AND srcaddr = $3 AND window_start >= $4 AND window_start < $4 + 600',
      [ids.topic, ids.account, stale.key, stale.slot],
    );
    expect(await keptInSlot(stale.slot, stale.key)).toEqual(truth[0]);
    await answersAsRecords('sealed');
    // Late records for the sealed slot: one of a key it dropped, one of a key it kept, one of a new key.
    const late = [`10.99.0.0`, `10.99.1.43`, '10.98.0.1'].map((srcaddr, i) =>
      makeRecord({
        ...mine[0],
        srcaddr,
        bytes: 5_000_000 * (i + 1),
        packets: 7,
        windowStart: H + 2 * HOUR + 660,
        windowEnd: H + 2 * HOUR + 720,
        recordId: `late-${i}`,
      }),
    );
    expect(await insertRecords(stack.db.pool, late)).toBe(3);
    mine.push(...late);
    const crowded = (key: string) => keptInSlot(H + 2 * HOUR + 600, key);
    const [before, bounds] = [await crowded('10.99.1.43'), await rest(H + 2 * HOUR + 600)];
    await answersAsRecords('late, pending');
    expect(await foldRollup(stack.db.pool)).toEqual({ folded: 3, late: 3, retried: 0 });
    // The kept key took its record once; the new key only raised the bound.
    expect(await crowded('10.99.1.43')).toEqual({ bytes: before!.bytes + 10_000_000, flows: before!.flows + 1 });
    expect(await crowded('10.98.0.1')).toBeUndefined();
    expect(await rest(H + 2 * HOUR + 600)).toEqual({ sealed: true, bytes_max: bounds!.bytes_max + 15_000_000 });
    await answersAsRecords('late');
    // The benchmark's kind of data: the bounds settle most answers without the records.
    expect([...sources].sort()).toEqual(['records', 'rollups']);
  });

  it('counts once a record committed while a fold seals its slot', async () => {
    // A slot of its own after the other records, a range holding it whole.
    const slot = DAYS_TO - (DAYS_TO % 600) + 3600;
    const range = [slot - 1000, slot + 1800];
    const at = (srcaddr: string, recordId: string) =>
      makeRecord({ ...mine[0], srcaddr, bytes: 7_000_000, windowStart: slot + 60, windowEnd: slot + 120, recordId });
    await ensureDayPartitions(stack.db.pool, [slot], new Set());
    expect(await insertRecords(stack.db.pool, [at('10.97.0.1', 'during-0')])).toBe(1);
    await foldRollup(stack.db.pool);
    // The fold and seal begin (their snapshot taken), then wait for a table lock while a record of
    // the slot, of the same key, and one of a new key are committed.
    const locker = await stack.db.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE flow_rollup_series IN EXCLUSIVE MODE');
      const fold = foldRollup(stack.db.pool, 0);
      for (let waiting = 0; !waiting; await new Promise((r) => setTimeout(r, 20)))
        waiting = (
          await stack.db.pool.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH taken AS%'",
          )
        ).rows[0].n;
      const during = [at('10.97.0.1', 'during-1'), at('10.97.0.2', 'during-2')];
      expect(await insertRecords(stack.db.pool, during)).toBe(2);
      mine.push(...during);
      await locker.query('COMMIT');
      expect((await fold).folded).toBe(0);
    } finally {
      locker.release();
    }
    // Sealed from the record it saw; the two committed meanwhile are still pending, counted from there.
    expect(await rest(slot)).toMatchObject({ sealed: true });
    expect(await keptInSlot(slot, '10.97.0.1')).toEqual({ bytes: 7_000_000, flows: 1 });
    expect(await pending()).toBe(2);
    await answersAsRecords('committed during a seal', [range]);
    // Folded into the sealed slot as late records: the kept key adds its record, the new key the bound.
    await foldRollup(stack.db.pool);
    expect(await keptInSlot(slot, '10.97.0.1')).toEqual({ bytes: 14_000_000, flows: 2 });
    expect(await rest(slot)).toEqual({ sealed: true, bytes_max: 7_000_000 });
    await answersAsRecords('folded after the seal', [range]);
  });

  it('takes from its records the totals of a key the answer names but a sealed slot dropped', async () => {
    // Two slots of their own, a day after the others: in the first the key is alone and big; in the
    // second it has a small record among more keys than a slot keeps, and is dropped there.
    const first = DAYS_TO - (DAYS_TO % 600) + DAY;
    const second = first + 600;
    const key = '10.99.9.9';
    const at = (srcaddr: string, slot: number, bytes: number, i: number) =>
      makeRecord({
        ...mine[0],
        srcaddr,
        bytes,
        packets: 1,
        windowStart: slot,
        windowEnd: slot + 60,
        recordId: `repair-${i}`,
      });
    const records = [
      at(key, first, 10_000_000, 0),
      at(key, second, 1, 1),
      ...Array.from({ length: 3 * SLOT_KEEP }, (_, i) => at(`10.99.${i >> 8}.${i & 255}`, second, 1000 + i, 2 + i)),
    ];
    await ensureDayPartitions(stack.db.pool, [first], new Set());
    expect(await insertRecords(stack.db.pool, records)).toBe(records.length);
    mine.push(...records);
    await foldRollup(stack.db.pool, 0);
    expect(await keptInSlot(second, key)).toBeUndefined();
    const range = [first - 300, second + 900];
    const { body } = await stack.api(
      'GET',
      `/v1/log-topics/${ids.topic}/analysis/top?from=${range[0]}&to=${range[1]}&by=srcaddr&metric=bytes&limit=3`,
    );
    // From the rollups, the dropped record included: the records' answer.
    expect(body).toEqual({ items: await fromRecords('srcaddr', 'bytes', 3, range[0], range[1]), source: 'rollups' });
    expect(body.items[0]).toEqual({ key, bytes: 10_000_001, packets: 2, flows: 2 });
  });

  it('says when a filtered top-N read the records', async () => {
    const { body } = await stack.api(
      'GET',
      `/v1/log-topics/${ids.topic}/analysis/top?from=${FROM}&to=${TO}&by=srcaddr&q=dstport:443`,
    );
    expect(body.source).toBe('records');
    const { body: plain } = await stack.api(
      'GET',
      `/v1/log-topics/${ids.topic}/analysis/top?from=${FROM}&to=${TO}&by=action`,
    );
    expect(plain.source).toBe('rollups');
  });

  it('reads the records for a facet over days the levels do not hold it for (stored before the upgrade)', async () => {
    const top = async () =>
      (
        await stack.api(
          'GET',
          `/v1/log-topics/${ids.topic}/analysis/top?from=${DAYS_FROM}&to=${DAYS_TO}&by=srcaddr&limit=3&q=action:REJECT`,
        )
      ).body;
    const records = await stack.db.pool.query(
      topRecordsSql(
        recordScope(ids.topic, ids.account, { from: DAYS_FROM, to: DAYS_TO, q: parseQuery('action:REJECT') }, DAYS_TO),
        {
          by: 'srcaddr',
          metric: 'bytes',
          limit: 3,
        },
      ),
    );
    expect(await top()).toEqual({ items: records.rows, source: 'rollups' });
    // As migration 017 leaves it when slots of the range's first day were sealed before it.
    await stack.db.pool.query('UPDATE flow_rollup_facets SET since = $1', [DAYS_FROM - (DAYS_FROM % 600) + 600]);
    try {
      expect(await top()).toEqual({ items: records.rows, source: 'records' });
    } finally {
      await stack.db.pool.query('UPDATE flow_rollup_facets SET since = 0');
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
