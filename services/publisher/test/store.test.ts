/** The publisher's insert path on the real database: records and their rollups, replays, concurrent publishers, the migration's backfill. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromRow, recordIdOf, type FlowRecord } from '@flowlogs/contracts';
import {
  DAY,
  ensureDayPartitions,
  FOLD_ROLLUP_SQL,
  type Facet,
  FACETS,
  LEVEL_DIMENSIONS,
  LEVEL_KEYS,
  migrate,
  rollupPendingSql,
  ROLLUP_WRITER_SQL,
  SLOT,
  TOP_KEYS,
  type Pool,
  type TopKey,
} from '@flowlogs/db';
import { createTestDatabase, makeRecord, type TestDatabase } from '@flowlogs/testkit';
import { foldRollup, insertRecords, isConcurrencyConflict, isConnectionError } from '../src/store.js';

const HOUR = 3600;
const T0 = Date.UTC(2026, 10, 25, 10) / 1000;

let db: TestDatabase;
let serial = 0;

/** A record of the first log topic in the hour `hour` after T0; `over` changes any field. */
function record(hour: number, over: Partial<FlowRecord> = {}): FlowRecord {
  const windowStart = T0 + hour * HOUR + (serial % 60) * 60;
  const r = makeRecord({
    accountId: '111111111111',
    interfaceId: `eni-${serial % 3}`,
    srcaddr: `10.0.0.${serial % 5}`,
    dstaddr: serial % 2 ? '192.0.2.1' : 'fd00::1',
    srcport: 40_000 + (serial % 7),
    dstport: serial % 2 ? 443 : 53,
    protocol: serial % 2 ? 6 : 17,
    packets: 1 + (serial % 11),
    bytes: 100 + serial,
    start: windowStart,
    end: windowStart + 30,
    action: serial % 9 ? 'ACCEPT' : 'REJECT',
    windowStart,
    windowEnd: windowStart + 60,
    flowLogId: 'fl-1',
    logTopicId: 'topic-1',
    ...over,
  });
  serial++;
  return { ...r, recordId: recordIdOf({ ...r, srcport: serial }) };
}

type RollupRow = {
  level: 'slot' | 'day';
  log_topic_id: string;
  account_id: string;
  dimension: string;
  at: number;
  key: string | null;
  bytes: number;
  packets: number;
  flows: number;
};

/**
 * The rollups the records make, computed here: OK records only, per log topic, account and dimension
 * (a facet's dimension: the records it picks), when `sealed` every key's totals (as text) per day and
 * per slot, else none: an open slot is only noted, for every dimension (its key null and its bounds
 * zero), its keys join the day when it is sealed.
 */
function expectedRollup(records: FlowRecord[], { sealed = false } = {}): RollupRow[] {
  const rows = new Map<string, RollupRow>();
  for (const r of records.filter((x) => x.logStatus === 'OK')) {
    for (const [level, grain] of [
      ['slot', SLOT],
      ['day', DAY],
    ] as const) {
      if (level === 'day' && !sealed) continue;
      for (const dimension of LEVEL_DIMENSIONS) {
        const [name, facet] = dimension.split(':') as [TopKey, Facet | undefined];
        if (sealed && facet && r[FACETS[facet].column] !== FACETS[facet].value) continue;
        const value = r[name];
        const key = level === 'slot' && !sealed ? null : value === null ? null : String(value);
        const at = r.windowStart - (r.windowStart % grain);
        const id = JSON.stringify([level, r.logTopicId, r.accountId, dimension, at, key]);
        const row = rows.get(id) ?? {
          level,
          log_topic_id: r.logTopicId,
          account_id: r.accountId,
          dimension,
          at,
          key,
          bytes: 0,
          packets: 0,
          flows: 0,
        };
        if (sealed) {
          row.bytes += r.bytes ?? 0;
          row.packets += r.packets ?? 0;
          row.flows += 1;
        }
        rows.set(id, row);
      }
    }
  }
  return sortRollup([...rows.values()]);
}

const sortRollup = (rows: RollupRow[]) =>
  rows.sort((a, b) =>
    JSON.stringify([a.level, a.log_topic_id, a.account_id, a.dimension, a.at, a.key]).localeCompare(
      JSON.stringify([b.level, b.log_topic_id, b.account_id, b.dimension, b.at, b.key]),
    ),
  );

/**
 * The rollups once the pending rows are folded into them (and the slots sealed, if `sealAfter` says):
 * the daily level's rows, and per slot its kept keys once sealed, else its note (bounds zero).
 */
async function rollup(pool: Pool, sealAfter?: number): Promise<RollupRow[]> {
  await foldRollup(pool, sealAfter);
  expect((await pool.query('SELECT count(*)::int AS n FROM flow_rollup_pending')).rows[0].n).toBe(0);
  return sortRollup(
    (
      await pool.query<RollupRow>(
        "SELECT 'slot' AS level, log_topic_id, account_id, dimension, slot AS at, key, bytes, packets, flows FROM flow_rollup_slot " +
          "UNION ALL SELECT 'slot', log_topic_id, account_id, dimension, slot, NULL, bytes_max, packets_max, flows_max FROM flow_rollup_slot_rest WHERE NOT sealed " +
          "UNION ALL SELECT 'day', log_topic_id, account_id, dimension, day, key, bytes, packets, flows FROM flow_rollup_daily",
      )
    ).rows,
  );
}

async function store(records: FlowRecord[]): Promise<number> {
  await ensureDayPartitions(
    db.pool,
    records.map((r) => r.windowStart),
    new Set(),
  );
  return insertRecords(db.pool, records);
}

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

describe('insertRecords', () => {
  const stored: FlowRecord[] = [];

  it('stores every field as given, the record read back from its columns equal to it, whatever characters a value holds (COPY text escaping)', async () => {
    const odd = record(3, { interfaceId: 'eni-\t\\x\n"y\r', flowLogId: 'fl-ü\\N' });
    expect(await store([odd])).toBe(1);
    const { rows } = await db.pool.query('SELECT * FROM flow_records WHERE record_id = $1', [odd.recordId]);
    expect(rows).toHaveLength(1);
    expect(rows[0].interface_id).toBe(odd.interfaceId);
    expect(rows[0].flow_log_id).toBe(odd.flowLogId);
    // The same JSON as delivered, keys in the same order.
    expect(JSON.stringify(recordFromRow(rows[0]))).toBe(JSON.stringify(odd));
    await db.pool.query('DELETE FROM flow_records WHERE record_id = $1', [odd.recordId]);
    await db.pool.query('DELETE FROM flow_rollup_pending');
  });

  it('adds the OK records it inserts to the rollups, and nothing when a batch is replayed', async () => {
    const batch = [
      ...Array.from({ length: 40 }, (_, i) => record(i % 2)),
      record(0, { logTopicId: 'topic-2' }),
      record(0, { accountId: '222222222222' }),
      record(1, { srcport: null, dstport: null, protocol: 1, packets: null }), // keys and counters may be missing
      record(0, {
        srcaddr: null,
        dstaddr: null,
        srcport: null,
        dstport: null,
        protocol: null,
        packets: null,
        bytes: null,
        action: null,
        logStatus: 'NODATA',
      }),
      record(1, { logStatus: 'SKIPDATA', skippedPackets: 12 }),
    ];
    expect(await store(batch)).toBe(batch.length);
    stored.push(...batch);
    // Folded into open slots: only noted there, nothing in the daily totals before the seal.
    const once = await rollup(db.pool);
    expect(once).toEqual(expectedRollup(stored));

    // The same batch again (a publisher restarted before its offset commit): stored once, counted once.
    expect(await store(batch)).toBe(0);
    expect(await rollup(db.pool)).toEqual(once);

    // Half of it again with new records: only the new ones count.
    const more = Array.from({ length: 10 }, (_, i) => record(i % 3));
    expect(await store([...batch.slice(0, 20), ...more])).toBe(more.length);
    stored.push(...more);
    expect(await rollup(db.pool)).toEqual(expectedRollup(stored));
  });

  it('stores a batch once when two publishers store it at the same time (a partition replayed by its new owner)', async () => {
    const batch = Array.from({ length: 2000 }, (_, i) => record(i % 2));
    const counts = await Promise.all([store(batch), store(batch)]);
    expect(counts.sort()).toEqual([0, batch.length]);
    stored.push(...batch);
    expect(await rollup(db.pool)).toEqual(expectedRollup(stored));
  });

  it('keeps exact totals when publishers store the same keys and fold at once', async () => {
    // Four batches of new records over the same hours and keys, stored concurrently (two of them in
    // reverse order), while folds run: each pending row is folded once, by one of them.
    const batches = Array.from({ length: 4 }, (_, b) => {
      const rs = Array.from({ length: 1500 }, (_, i) => record(i % 3));
      return b % 2 ? rs.reverse() : rs;
    });
    const folds: Promise<{ folded: number }>[] = [];
    const counts = await Promise.all(
      batches.map(async (b) => {
        const n = await store(b);
        folds.push(foldRollup(db.pool), foldRollup(db.pool));
        return n;
      }),
    );
    expect(counts).toEqual([1500, 1500, 1500, 1500]);
    const folded = [...(await Promise.all(folds)), await foldRollup(db.pool)].reduce((n, f) => n + f.folded, 0);
    expect(folded).toBe(batches.flat().filter((r) => r.logStatus === 'OK').length);
    stored.push(...batches.flat());
    expect(await rollup(db.pool)).toEqual(expectedRollup(stored));
  });

  it('is what the migration fills the rollup with from records stored before it', async () => {
    await db.pool.query('TRUNCATE flow_rollup_series, flow_rollup_daily, flow_rollup_slot, flow_rollup_slot_rest');
    await db.pool.query("DELETE FROM schema_migrations WHERE name LIKE '011_%'");
    expect(await migrate(db.pool)).toEqual([expect.stringMatching(/^011_/)]);
    expect(await rollup(db.pool)).toEqual(expectedRollup(stored));
  });

  it('seals the slots from their records: each keeps every key when it has no more than it keeps, and its day gets them', async () => {
    const sealed = await rollup(db.pool, 0);
    expect(sealed).toEqual(expectedRollup(stored, { sealed: true }));
    // Keys and counters may be missing: the null key has its own totals.
    expect(sealed.find((r) => r.level === 'day' && r.dimension === 'srcport' && r.key === null)).toMatchObject({
      flows: 1,
      packets: 0,
    });
    expect(
      sealed.filter((r) => r.level === 'day' && r.dimension === 'interfaceId').reduce((n, r) => n + r.flows, 0),
    ).toBe(stored.filter((r) => r.logStatus === 'OK').length);
    expect(
      (await db.pool.query('SELECT count(*)::int AS n FROM flow_rollup_slot_rest WHERE NOT sealed OR flows_max > 0'))
        .rows[0].n,
    ).toBe(0);
  });

  it('begins a fold again when another committed after its snapshot, and counts each record once', async () => {
    // A fold without the lock stands for one that committed between this fold's snapshot and its
    // lock: this fold's delete of the same pending rows waits for it, then fails to serialize.
    const batch = Array.from({ length: 50 }, () => record(7));
    expect(await store(batch)).toBe(batch.length);
    stored.push(...batch);
    const other = await db.pool.connect();
    try {
      await other.query('BEGIN');
      await other.query(ROLLUP_WRITER_SQL);
      expect((await other.query(FOLD_ROLLUP_SQL)).rows[0].folded).toBe(batch.length);
      const fold = foldRollup(db.pool);
      for (let waiting = 0; !waiting; await new Promise((r) => setTimeout(r, 20)))
        waiting = (
          await db.pool.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH taken AS%'",
          )
        ).rows[0].n;
      await other.query('COMMIT');
      expect(await fold).toEqual({ folded: 0, late: 0, retried: 1 });
    } finally {
      other.release();
    }
    expect(await rollup(db.pool, 0)).toEqual(expectedRollup(stored, { sealed: true }));
  });
});

describe('migration 012 (the record json column goes)', () => {
  it('gives records stored before it their columns from their json, and reads them back as they were', async () => {
    const before = [
      record(5, { vpcId: 'vpc-9', subnetId: null, tcpFlags: 27, flowDirection: 'ingress' }),
      record(5, { dstaddr: '2001:db8::7', type: 'IPv6' }),
      record(5, { logStatus: 'SKIPDATA', skippedPackets: 1234 }),
      record(5, { logStatus: 'NODATA' }),
    ];
    await store(before);
    // The table as migration 011 left it: the json of each record, none of the columns 012 adds.
    await db.pool.query('ALTER TABLE flow_records ADD COLUMN record json');
    for (const r of before) {
      await db.pool.query('UPDATE flow_records SET record = $1 WHERE record_id = $2', [JSON.stringify(r), r.recordId]);
    }
    await db.pool.query(
      'ALTER TABLE flow_records DROP COLUMN version, DROP COLUMN vpc_id, DROP COLUMN subnet_id, DROP COLUMN tcp_flags, DROP COLUMN type, DROP COLUMN flow_direction, DROP COLUMN skipped_packets',
    );
    await db.pool.query("DELETE FROM schema_migrations WHERE name LIKE '012_%'");
    expect(await migrate(db.pool)).toEqual([expect.stringMatching(/^012_/)]);
    const { rows } = await db.pool.query('SELECT * FROM flow_records WHERE record_id = ANY($1)', [
      before.map((r) => r.recordId),
    ]);
    const after = new Map(rows.map((row) => [row.record_id, JSON.stringify(recordFromRow(row))]));
    expect(before.map((r) => after.get(r.recordId))).toEqual(before.map((r) => JSON.stringify(r)));
    expect(rows.some((row) => 'record' in row)).toBe(false);
  });
});

describe('migration 013 (address indexes by start, the primary key by window first)', () => {
  const definitions = async () =>
    Object.fromEntries(
      (
        await db.pool.query<{ name: string; def: string }>(
          "SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'flow_records'::regclass",
        )
      ).rows.map((r) => [r.name, r.def.replace(/^.* USING btree /, '')]),
    );

  it('rebuilds the keys over records stored before it, which a replay still finds', async () => {
    const before = [record(6), record(6), record(7)];
    await store(before);
    // The keys as migrations 001 left them.
    await db.pool.query(`DROP INDEX flow_records_topic_src; DROP INDEX flow_records_topic_dst;
      CREATE INDEX flow_records_topic_src ON flow_records (log_topic_id, srcaddr, window_start);
      CREATE INDEX flow_records_topic_dst ON flow_records (log_topic_id, dstaddr, window_start);
      ALTER TABLE flow_records DROP CONSTRAINT flow_records_pkey, ADD PRIMARY KEY (record_id, window_start)`);
    await db.pool.query("DELETE FROM schema_migrations WHERE name LIKE '013_%'");
    expect(await migrate(db.pool)).toEqual([expect.stringMatching(/^013_/)]);
    expect(await definitions()).toMatchObject({
      flow_records_pkey: '(window_start, record_id)',
      flow_records_topic_src: '(log_topic_id, srcaddr, COALESCE(start_time, window_start))',
      flow_records_topic_dst: '(log_topic_id, dstaddr, COALESCE(start_time, window_start))',
    });
    // Every day partition has them too (the child indexes are what a query reads).
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid
       WHERE i.inhparent = 'flow_records_pkey'::regclass AND pg_get_indexdef(x.indexrelid) LIKE '%(window_start, record_id)'`,
    );
    const { rows: days } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'flow_records'::regclass",
    );
    expect(rows[0].n).toBe(days[0].n);
    expect(await store(before)).toBe(0);
    expect(await store([...before, record(7)])).toBe(1);
  });
});

describe("migration 016 (a slot's keys join the daily totals when it is sealed)", () => {
  it('takes out what the version before added of the open slots, which their seal adds once', async () => {
    await rollup(db.pool, 0); // the other tests' records sealed: only this test's slots are open
    const mine = (over: Partial<FlowRecord> = {}) => record(9, { logTopicId: 'topic-16', ...over });
    const folded = Array.from({ length: 30 }, () => mine());
    await store(folded);
    await foldRollup(db.pool);
    // The schema before it, and the daily totals as its folds left them: every folded record of the
    // open slots in its day (no facets then).
    const LEGACY_KEYS = LEVEL_KEYS.map((name) => `('${name}', ${TOP_KEYS[name].sql}::text)`).join(', ');
    await db.pool.query('DROP TRIGGER flow_rollup_daily_writer ON flow_rollup_daily');
    await db.pool.query(`INSERT INTO flow_rollup_daily (log_topic_id, account_id, dimension, day, key, bytes, packets, flows)
      SELECT log_topic_id, account_id, d.dimension, window_start - window_start % ${DAY}, d.key, coalesce(sum(bytes), 0), coalesce(sum(packets), 0), count(*)
      FROM flow_records CROSS JOIN LATERAL (VALUES ${LEGACY_KEYS}) AS d (dimension, key)
      WHERE log_topic_id = 'topic-16' AND log_status = 'OK' GROUP BY 1, 2, 3, 4, 5`);
    // Some not folded yet, one without keys or counters.
    const waiting = [mine(), mine(), mine({ srcport: null, dstport: null, bytes: null })];
    await store(waiting);
    await db.pool.query("DELETE FROM schema_migrations WHERE name LIKE '016_%'");
    expect(await migrate(db.pool)).toEqual([expect.stringMatching(/^016_/)]);
    expect(
      (await db.pool.query("SELECT count(*)::int AS n FROM flow_rollup_daily WHERE log_topic_id = 'topic-16'")).rows[0]
        .n,
    ).toBe(0);
    const sealed = (await rollup(db.pool, 0)).filter((r) => r.log_topic_id === 'topic-16');
    expect(sealed).toEqual(expectedRollup([...folded, ...waiting], { sealed: true }));
    // A writer that does not say it adds a slot's keys at the seal (the version before) is refused.
    await expect(
      db.pool.query(
        "INSERT INTO flow_rollup_daily (log_topic_id, account_id, dimension, day, key, bytes, packets, flows) VALUES ('topic-16', '1', 'srcaddr', 0, 'x', 1, 1, 1)",
      ),
    ).rejects.toThrow(/flow_rollup_daily takes a slot's keys when the slot is sealed .*upgrade it/);
  });
});

describe('migration 018 (the series per well-known port)', () => {
  const series = async () =>
    (
      await db.pool.query(
        'SELECT log_topic_id, window_start, action, protocol, srcport, dstport, bytes::int, packets::int, flows::int FROM flow_rollup_series ' +
          'ORDER BY log_topic_id, window_start, action, protocol, srcport NULLS FIRST, dstport NULLS FIRST',
      )
    ).rows;

  it('rebuilds the series per port from the folded records, which the next fold completes', async () => {
    const mine = (over: Partial<FlowRecord>) => record(11, { logTopicId: 'topic-18', ...over });
    const folded = [
      mine({ srcport: 40_001, dstport: 443 }),
      mine({ srcport: 40_002, dstport: 443 }),
      mine({ srcport: 22, dstport: 51_000 }),
      mine({ srcport: 1023, dstport: 1024 }),
      mine({ srcport: null, dstport: null, protocol: 1, bytes: null }),
    ];
    const waiting = [mine({ srcport: 40_003, dstport: 443 }), mine({ srcport: 60_000, dstport: 8080 })];
    await store([...folded, ...waiting]);
    await foldRollup(db.pool);
    const expected = await series();
    const mineOnly = expected.filter((r) => r.log_topic_id === 'topic-18');
    // Ports below 1024 as they are, others -1, none NULL.
    expect(new Set(mineOnly.map((r) => `${r.srcport}>${r.dstport}`))).toEqual(
      new Set(['-1>443', '22>-1', '1023>-1', 'null>null', '-1>-1']),
    );
    // The table as before it (per action and protocol only), `waiting` not folded yet.
    await db.pool.query(`TRUNCATE flow_rollup_series;
      ALTER TABLE flow_rollup_series DROP CONSTRAINT flow_rollup_series_key, DROP COLUMN srcport, DROP COLUMN dstport;
      ALTER TABLE flow_rollup_series ADD CONSTRAINT flow_rollup_series_key UNIQUE NULLS NOT DISTINCT (log_topic_id, account_id, window_start, window_end, action, protocol)`);
    await db.pool.query(`${rollupPendingSql('flow_records')} AND record_id = ANY ($1)`, [
      waiting.map((r) => r.recordId),
    ]);
    await db.pool.query("DELETE FROM schema_migrations WHERE name LIKE '018_%'");
    expect(await migrate(db.pool)).toEqual([expect.stringMatching(/^018_/)]);
    // What the folds had added, not the pending rows: those the next fold adds.
    const flows = (rows: typeof expected) =>
      rows.filter((r) => r.log_topic_id === 'topic-18').reduce((n, r) => n + r.flows, 0);
    expect(flows(await series())).toBe(folded.length);
    expect((await foldRollup(db.pool)).folded).toBe(waiting.length);
    expect(await series()).toEqual(expected);
  });
});

describe('store errors', () => {
  /** The error Postgres answers when two transactions wait for each other's locks. */
  async function deadlock(): Promise<unknown> {
    const [a, b] = [await db.pool.connect(), await db.pool.connect()];
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      await a.query('SELECT pg_advisory_xact_lock(1)');
      await b.query('SELECT pg_advisory_xact_lock(2)');
      const results = await Promise.allSettled([
        a.query('SELECT pg_advisory_xact_lock(2)'),
        b.query('SELECT pg_advisory_xact_lock(1)'),
      ]);
      return results.find((r) => r.status === 'rejected')?.reason;
    } finally {
      for (const c of [a, b]) {
        await c.query('ROLLBACK');
        c.release();
      }
    }
  }

  it('takes a deadlock for a conflict a retry gets past, not for a bad batch nor an unreachable Postgres', async () => {
    const err = await deadlock();
    expect(err).toMatchObject({ code: '40P01' });
    expect(isConcurrencyConflict(err)).toBe(true);
    expect(isConnectionError(err)).toBe(false);
    const bad = await db.pool.query("SELECT 'x'::int").catch((e: unknown) => e);
    expect(isConcurrencyConflict(bad)).toBe(false);
    expect(isConnectionError(bad)).toBe(false);
  });
});
