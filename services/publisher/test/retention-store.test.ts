/** Retention applied to the real database: a cut-off inside a day leaves that day's daily totals exact. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '@flowlogs/contracts';
import { DAY, ensureDayPartitions, type Facet, FACETS, HOUR, LEVEL_DIMENSIONS, type TopKey } from '@flowlogs/db';
import { createTestDatabase, makeRecord, type TestDatabase } from '@flowlogs/testkit';
import { applyRetention } from '../src/retention-store.js';
import { foldRollup, insertRecords } from '../src/store.js';

const NOW = Date.UTC(2026, 10, 25, 12) / 1000;
/** The short log topic keeps a day: its records before yesterday noon go. */
const CUT = NOW - DAY;

let db: TestDatabase;
let n = 0;
const record = (windowStart: number, over: Partial<FlowRecord> = {}): FlowRecord => {
  n++;
  return makeRecord({
    accountId: '111111111111',
    logTopicId: 'short',
    flowLogId: 'fl-1',
    interfaceId: `eni-${n % 3}`,
    srcaddr: `10.0.0.${n % 4}`,
    dstaddr: '192.0.2.1',
    srcport: 40_000 + (n % 5),
    dstport: 443,
    packets: 1 + (n % 3),
    bytes: 100 * n,
    start: windowStart,
    end: windowStart + 10,
    windowStart,
    windowEnd: windowStart + 60,
    action: n % 4 ? 'ACCEPT' : 'REJECT',
    recordId: `r-${n}`,
    ...over,
  });
};
const store = async (records: FlowRecord[]) => {
  await ensureDayPartitions(
    db.pool,
    records.map((r) => r.windowStart),
    new Set(),
  );
  expect(await insertRecords(db.pool, records)).toBe(records.length);
};
/** Per dimension (facets too), day and key: the totals the daily level holds of the short log topic. */
const daily = async () =>
  (
    await db.pool.query(
      "SELECT dimension, day::int, key, bytes::int, packets::int, flows::int FROM flow_rollup_daily WHERE log_topic_id = 'short' ORDER BY 1, 2, 3",
    )
  ).rows;
/** The same computed from the records. */
const dailyOf = (records: FlowRecord[]) => {
  const rows = new Map<
    string,
    { dimension: string; day: number; key: string; bytes: number; packets: number; flows: number }
  >();
  for (const r of records)
    for (const dimension of LEVEL_DIMENSIONS) {
      const [name, facet] = dimension.split(':') as [TopKey, Facet | undefined];
      if (facet && r[FACETS[facet].column] !== FACETS[facet].value) continue;
      const [day, key] = [r.windowStart - (r.windowStart % DAY), String(r[name])];
      const row = rows.get(`${dimension} ${day} ${key}`) ?? { dimension, day, key, bytes: 0, packets: 0, flows: 0 };
      row.bytes += r.bytes ?? 0;
      row.packets += r.packets ?? 0;
      row.flows++;
      rows.set(`${dimension} ${day} ${key}`, row);
    }
  return [...rows.values()].sort((a, b) =>
    a.dimension === b.dimension ? a.day - b.day || (a.key < b.key ? -1 : 1) : a.dimension < b.dimension ? -1 : 1,
  );
};

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

describe('retention inside a day', () => {
  it('rebuilds the cut day from the records kept, once each: sealed, late and pending, and not sealed yet', async () => {
    // Yesterday from 10:00 to 14:00 every 10 minutes, folded and sealed.
    const sealed = Array.from({ length: 25 }, (_, i) => record(CUT - 2 * HOUR + i * 600));
    await store(sealed);
    await foldRollup(db.pool, 0);
    // A late record of a sealed slot after the cut, still pending; a later slot folded, not sealed.
    const late = record(CUT + 600, { srcaddr: '10.0.0.1', bytes: 7_000 });
    const open = record(CUT + 5 * HOUR + 120, { srcaddr: '10.0.0.9' });
    await store([open]);
    await foldRollup(db.pool, 3_600);
    await store([late]);
    const result = await applyRetention(
      db.pool,
      [
        { logTopicId: 'long', retentionDays: 7 },
        { logTopicId: 'short', retentionDays: 1 },
      ],
      NOW,
    );
    const kept = [...sealed, late, open].filter((r) => r.windowStart >= CUT);
    expect(result.deleted).toBe(sealed.length + 2 - kept.length);
    // The cut day holds its sealed slots' records kept, not the late one yet nor the open slot's.
    expect(await daily()).toEqual(dailyOf(sealed.filter((r) => r.windowStart >= CUT)));
    // Folded and sealed: each kept record once.
    await foldRollup(db.pool, 0);
    expect(await daily()).toEqual(dailyOf(kept));
  });
});
