/**
 * The query benchmark's data set: N flow records of one log topic, generated inside Postgres
 * (generate_series + json_build_object, the `record` column as the publisher writes it), kept in a
 * database of its own between runs and reused while its parameters and row count match.
 *
 * Shape: a day and a half of 60 s windows (2,160 windows) starting at a fixed UTC midnight, rows in
 * window order (as the publisher inserts them); 5,000 ENI-internal addresses (10.16.0.0/16, one ENI
 * each) talking to 50,000 peers (30 % in another VPC, 70 % public), both drawn from power laws so a
 * few addresses are top talkers (the busiest ENI address is in ~6 % of the records) and most are
 * rare; half egress, half ingress; TCP to a weighted mix of service ports, UDP 53/123, ~2 % ICMP;
 * ~4 % REJECT; ~0.3 % NODATA and ~0.3 % SKIPDATA status records; heavy-tailed packets and bytes.
 *
 * Loading: the day partitions are made with ensureDayPartitions, detached and stripped of their
 * indexes, filled an hour at a time (two connections), each hour's rows added to the hourly rollup in
 * its statement as the publisher does it, re-attached — which builds the partitions' indexes from the
 * parent's definitions, as the migrations declare them — then VACUUM ANALYZE.
 */
import type { Pool } from '@flowlogs/db';
import { dayPartitionName, ensureDayPartitions, HOUR, ROLLUP_SOURCE_COLUMNS, rollupUpsertSql } from '@flowlogs/db';

/** Bumped whenever the generator changes, so an old data set is not reused. */
export const GENERATOR_VERSION = 3;
export const INTERVAL = 60;
/** 2025-01-06T00:00:00Z: fixed, so the data set can be kept between runs. */
export const T0 = Date.UTC(2025, 0, 6) / 1000;
export const SPAN = 36 * 3600;
export const WINDOWS = SPAN / INTERVAL;
export const INTERNAL_ADDRESSES = 5_000;
export const PEERS = 50_000;

export interface DataSet {
  records: number;
  logTopicId: string;
  accountId: string;
  flowLogId: string;
  version: number;
  t0: number;
  loadedAt: string;
  loadSec: number;
}

/** The internal address of ENI number `e` (SQL expression over an integer `e`). */
const internalSql = (e: string) => `('10.16.' || (${e} / 250) || '.' || (${e} % 250 + 4))`;
/** The peer address of number `p`: 30 % in 10.20.0.0/16, 70 % public, all distinct. */
const peerSql = (p: string) =>
  `(CASE WHEN ${p} % 10 < 3 THEN '10.20.' || (${p} / 250 % 256) || '.' || (${p} % 250 + 1)
    ELSE (20 + ${p} % 200) || '.' || (${p} / 200) || '.' || ((${p} * 37) % 256) || '.' || (1 + (${p} * 11) % 254) END)`;

/** The SELECT that generates rows [lo, hi) of N; its columns are flow_records' in the publisher's order. */
function generateSql(
  n: number,
  lo: number,
  hi: number,
  ids: { logTopicId: string; accountId: string; flowLogId: string },
): string {
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  return `
SELECT md5(${lit(ids.flowLogId)} || '|' || interface_id || '|' || ws || '|' || i) AS record_id, ws, ws + ${INTERVAL},
  ${lit(ids.logTopicId)}, ${lit(ids.flowLogId)}, ${lit(ids.accountId)}, interface_id, src::inet, dst::inet, sport, dport, proto,
  pk, nbytes, st, en, act, status,
  json_build_object('version', 2, 'accountId', ${lit(ids.accountId)}, 'interfaceId', interface_id, 'srcaddr', src, 'dstaddr', dst,
    'srcport', sport, 'dstport', dport, 'protocol', proto, 'packets', pk, 'bytes', nbytes, 'start', st, 'end', en, 'action', act,
    'logStatus', status, 'vpcId', 'vpc-bench0001', 'subnetId', 'subnet-bench' || lpad((e / 250)::text, 4, '0'), 'tcpFlags', flags,
    'type', CASE WHEN status = 'OK' THEN 'IPv4' END, 'flowDirection', CASE WHEN status = 'OK' THEN CASE WHEN egress THEN 'egress' ELSE 'ingress' END END,
    'windowStart', ws, 'windowEnd', ws + ${INTERVAL}, 'flowLogId', ${lit(ids.flowLogId)}, 'logTopicId', ${lit(ids.logTopicId)},
    'skippedPackets', skipped, 'recordId', md5(${lit(ids.flowLogId)} || '|' || interface_id || '|' || ws || '|' || i))
FROM (
  SELECT i, ws, e, egress, status, 'eni-' || lpad(to_hex(e), 8, '0') AS interface_id,
    CASE WHEN ok THEN CASE WHEN egress THEN ${internalSql('e')} ELSE ${peerSql('p')} END END AS src,
    CASE WHEN ok THEN CASE WHEN egress THEN ${peerSql('p')} ELSE ${internalSql('e')} END END AS dst,
    CASE WHEN NOT ok THEN NULL WHEN proto = 1 THEN 0 WHEN egress THEN ephemeral ELSE service END AS sport,
    CASE WHEN NOT ok THEN NULL WHEN proto = 1 THEN 0 WHEN egress THEN service ELSE ephemeral END AS dport,
    CASE WHEN ok THEN proto END AS proto,
    CASE WHEN ok THEN pk END AS pk,
    CASE WHEN ok THEN pk * size END AS nbytes,
    CASE WHEN ok THEN ws + st_off END AS st,
    CASE WHEN ok THEN ws + st_off + dur END AS en,
    CASE WHEN ok THEN CASE WHEN reject THEN 'REJECT' ELSE 'ACCEPT' END END AS act,
    CASE WHEN ok AND proto = 6 THEN flags END AS flags,
    CASE WHEN status = 'SKIPDATA' THEN skip END AS skipped
  FROM (
    SELECT i, ws, e, p, egress, reject, service, ephemeral, st_off, dur, flags, skip, status, status = 'OK' AS ok,
      CASE WHEN icmp THEN 1 WHEN service IN (53, 123) THEN 17 ELSE 6 END AS proto,
      CASE WHEN reject THEN 1 + floor(r_pk * 3)::bigint ELSE 1 + floor(exp(r_pk * r_pk2 * 12))::bigint END AS pk,
      CASE WHEN reject THEN 40 + floor(r_size * 20)::bigint ELSE 60 + floor(r_size * 1400)::bigint END AS size
    FROM (
      SELECT i, ${T0} + (i::bigint * ${WINDOWS} / ${n}) * ${INTERVAL} AS ws,
        floor(${INTERNAL_ADDRESSES} * power(random(), 3))::int AS e,
        floor(${PEERS} * power(random(), 2.5))::int AS p,
        random() < 0.5 AS egress, random() < 0.04 AS reject, random() < 0.02 AS icmp,
        (ARRAY[443, 443, 443, 443, 443, 80, 80, 53, 53, 22, 3306, 5432, 6379, 8080, 123, 9092])[1 + floor(random() * 16)::int] AS service,
        32768 + floor(random() * 28232)::int AS ephemeral,
        floor(random() * 30)::bigint AS st_off, floor(random() * 30)::bigint AS dur,
        (ARRAY[2, 18, 16, 24, 24, 25, 17, 19, 4])[1 + floor(random() * 9)::int] AS flags,
        1 + floor(random() * 5000)::bigint AS skip,
        CASE WHEN random() < 0.003 THEN 'NODATA' WHEN random() < 0.003 THEN 'SKIPDATA' ELSE 'OK' END AS status,
        random() AS r_pk, random() AS r_pk2, random() AS r_size
      FROM generate_series(${lo}::bigint, ${hi - 1}::bigint) AS i
    ) a
  ) b
) c`;
}

const COLUMNS =
  'record_id, window_start, window_end, log_topic_id, flow_log_id, account_id, interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start_time, end_time, action, log_status, record';

export async function readDataSet(pool: Pool): Promise<DataSet | undefined> {
  await pool.query('CREATE TABLE IF NOT EXISTS bench_query_meta (id int PRIMARY KEY, data jsonb NOT NULL)');
  const { rows } = await pool.query<{ data: DataSet }>('SELECT data FROM bench_query_meta WHERE id = 1');
  return rows[0]?.data;
}

/** Rows of the log topic, counted exactly (an index-only scan after VACUUM). */
export async function countRecords(pool: Pool, logTopicId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::bigint AS n FROM flow_records WHERE log_topic_id = $1',
    [logTopicId],
  );
  return rows[0].n;
}

/** The partitions of flow_records, by name. */
async function partitions(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'flow_records'::regclass ORDER BY 1",
  );
  return rows.map((r) => r.name);
}

/** Drops everything in flow_records and loads N records of the log topic; prints progress to stderr. */
export async function loadDataSet(
  pool: Pool,
  n: number,
  ids: { logTopicId: string; accountId: string; flowLogId: string },
): Promise<DataSet> {
  const started = performance.now();
  const say = (m: string) => process.stderr.write(`[load] ${m}\n`);
  await pool.query('DELETE FROM bench_query_meta');
  for (const p of await partitions(pool)) await pool.query(`DROP TABLE ${p}`);
  await pool.query('TRUNCATE flow_rollup_hourly, flow_rollup_pending');

  // Day partitions as the publisher makes them, then detached and without indexes while they fill.
  const days: number[] = [];
  for (let d = T0; d < T0 + SPAN; d += 86_400) days.push(d);
  await ensureDayPartitions(pool, days, new Set());
  const parts = days.map((d) => dayPartitionName(d));
  for (const p of parts) {
    await pool.query(`ALTER TABLE flow_records DETACH PARTITION ${p.name}`);
    const { rows: cons } = await pool.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE conrelid = '${p.name}'::regclass AND contype = 'p'`,
    );
    for (const c of cons) await pool.query(`ALTER TABLE ${p.name} DROP CONSTRAINT ${c.conname}`);
    const { rows: idx } = await pool.query<{ name: string }>(
      `SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = '${p.name}'::regclass`,
    );
    for (const i of idx) await pool.query(`DROP INDEX ${i.name}`);
    // Lets ATTACH skip its validating scan.
    await pool.query(
      `ALTER TABLE ${p.name} ADD CONSTRAINT ${p.name}_bench_range CHECK (window_start >= ${p.from} AND window_start < ${p.to})`,
    );
  }

  // Chunks of row numbers, an hour of windows each: none crosses a day, and each has rollup rows of its
  // own (inserted, not updated by the next chunk, which would leave dead rows). Window w = floor(i · WINDOWS / N) starts at T0 + 60 w.
  const firstRowOfWindow = (w: number) => Math.ceil((w * n) / WINDOWS);
  const chunks: { part: string; lo: number; hi: number }[] = [];
  for (let w = 0; w < WINDOWS; w += HOUR / INTERVAL) {
    const [lo, hi] = [firstRowOfWindow(w), firstRowOfWindow(w + HOUR / INTERVAL)];
    if (lo < hi) chunks.push({ part: dayPartitionName(T0 + w * INTERVAL).name, lo, hi });
  }
  let next = 0;
  let done = 0;
  const worker = async () => {
    const client = await pool.connect();
    try {
      await client.query('SET synchronous_commit = off');
      await client.query("SET work_mem = '256MB'");
      for (let c = chunks[next++]; c; c = chunks[next++]) {
        await client.query(
          `WITH chunk AS (INSERT INTO ${c.part} (${COLUMNS}) ${generateSql(n, c.lo, c.hi, ids)} RETURNING ${ROLLUP_SOURCE_COLUMNS.join(', ')}) ${rollupUpsertSql('chunk')}`,
        );
        done += c.hi - c.lo;
        const sec = (performance.now() - started) / 1000;
        say(
          `${done.toLocaleString('en')} / ${n.toLocaleString('en')} rows (${((100 * done) / n).toFixed(0)} %), ${sec.toFixed(0)} s`,
        );
      }
    } finally {
      client.release();
    }
  };
  await Promise.all([worker(), worker()]);

  const client = await pool.connect();
  try {
    await client.query("SET maintenance_work_mem = '1GB'");
    await client.query('SET max_parallel_maintenance_workers = 2');
    for (const p of parts) {
      const t = performance.now();
      await client.query(
        `ALTER TABLE flow_records ATTACH PARTITION ${p.name} FOR VALUES FROM (${p.from}) TO (${p.to})`,
      );
      await client.query(`ALTER TABLE ${p.name} DROP CONSTRAINT ${p.name}_bench_range`);
      say(`${p.name} attached, its indexes built in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    }
    const t = performance.now();
    await client.query('VACUUM (ANALYZE) flow_records');
    for (const p of parts) await client.query(`VACUUM (ANALYZE) ${p.name}`);
    await client.query('VACUUM (ANALYZE) flow_rollup_hourly');
    say(`VACUUM ANALYZE in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  } finally {
    client.release();
  }
  const set: DataSet = {
    records: n,
    logTopicId: ids.logTopicId,
    accountId: ids.accountId,
    flowLogId: ids.flowLogId,
    version: GENERATOR_VERSION,
    t0: T0,
    loadedAt: new Date().toISOString(),
    loadSec: (performance.now() - started) / 1000,
  };
  await pool.query('INSERT INTO bench_query_meta (id, data) VALUES (1, $1)', [JSON.stringify(set)]);
  return set;
}

/** Sizes of flow_records' partitions (heap, indexes) and of the hourly rollup's (with indexes; rows as estimated) for the report. */
export async function relationSizes(pool: Pool): Promise<{
  heap: number;
  indexes: number;
  perIndex: { name: string; bytes: number }[];
  rollup: { bytes: number; rows: number };
}> {
  const parts = await partitions(pool);
  let heap = 0;
  let indexes = 0;
  const perIndex = new Map<string, number>();
  for (const p of parts) {
    const { rows } = await pool.query<{ heap: number; idx: number }>(
      `SELECT pg_table_size('${p}')::bigint AS heap, pg_indexes_size('${p}')::bigint AS idx`,
    );
    heap += rows[0].heap;
    indexes += rows[0].idx;
    const { rows: idx } = await pool.query<{ parent: string; bytes: number }>(
      `SELECT coalesce(pi.inhparent::regclass::text, x.indexrelid::regclass::text) AS parent, pg_relation_size(x.indexrelid)::bigint AS bytes
       FROM pg_index x LEFT JOIN pg_inherits pi ON pi.inhrelid = x.indexrelid WHERE x.indrelid = '${p}'::regclass`,
    );
    for (const r of idx) perIndex.set(r.parent, (perIndex.get(r.parent) ?? 0) + r.bytes);
  }
  const {
    rows: [rollup],
  } = await pool.query<{ bytes: number; rows: number }>(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes, coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint AS rows
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'flow_rollup_hourly'::regclass`,
  );
  return { heap, indexes, perIndex: [...perIndex].map(([name, bytes]) => ({ name, bytes })), rollup };
}

/** Indexes on flow_records beyond the migrations' (made by hand to try them), as their definitions. */
export async function extraIndexes(pool: Pool): Promise<string[]> {
  const known = [
    'flow_records_pkey',
    'flow_records_topic_time',
    'flow_records_topic_src',
    'flow_records_topic_dst',
    'flow_records_flow_log_time',
  ];
  const { rows } = await pool.query<{ name: string; def: string }>(
    "SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'flow_records'::regclass",
  );
  return rows.filter((r) => !known.includes(r.name)).map((r) => r.def);
}
