/**
 * The rollups of flow_records (migration 011), the totals (bytes, packets, records as flows) of
 * OK records per log topic and account, at three levels:
 *  - flow_rollup_series: per window (window_start, window_end), action, protocol and well-known
 *    source and destination port (SERIES_PORT_BELOW) — the histogram, the action totals and the top-N
 *    of protocols and actions, exact for any range since a record's window is what decides whether it
 *    counts, and with a query on those columns (seriesAnswers);
 *  - flow_rollup_daily: per UTC day and key (of LEVEL_KEYS), every key of the day's sealed slots — the
 *    whole days of a top-N (a slot's keys join it when the slot is sealed, from the sums the seal
 *    computes: per key of a 10-minute slot, not per key of every fold);
 *  - flow_rollup_slot: per sealed 10-minute slot and key, only the keys that can reach a top-N (the
 *    SLOT_KEEP first by bytes, by packets or by flows), with flow_rollup_slot_rest holding, per slot,
 *    when a record last came to it and, once sealed, a bound on every other key's totals there — the
 *    whole slots of a top-N outside its whole days; an answer the bounds cannot settle is taken from
 *    the records. A slot not sealed yet is in neither level: readers take it from the records.
 * Whatever inserts records appends the rows the insert actually made to flow_rollup_pending in the
 * same statement (migration 005), so a replayed batch never counts twice; FOLD_ROLLUP_SQL moves them
 * into the levels and SEAL_ROLLUP_SQL seals the slots no record came to for a while, from their
 * records. Readers add what is still pending. SQL text only, no I/O.
 */

export const HOUR = 3600;
export const DAY = 86_400;
/** The truncated level's grain: a top-N reads at most this much of the records at each end of its range. */
export const SLOT = 600;
/**
 * Keys a sealed slot keeps per metric. In the query benchmark's data a slot of 70,000 records holds
 * ~20,000 source addresses; the 10 busiest of a day are among a slot's first 100 by bytes.
 */
export const SLOT_KEEP = 100;
/**
 * Keys a sealed slot of a facet's dimension keeps per metric: a facet's records are few and their keys
 * spread flat (REJECT in the query benchmark: ~2,800 records a slot over ~1,200 source addresses), so
 * a day's busiest rank lower in a slot. With SLOT_KEEP, one or two of the 144 slots of a day dropped
 * three of its 10 busiest refused addresses, which left the answer to the records.
 */
export const FACET_SLOT_KEEP = 300;
/** How many keys per metric a sealed slot of the dimension `dimension` (SQL, a column) keeps (SQL). */
export const slotKeepSql = (dimension: string): string =>
  `CASE WHEN strpos(${dimension}, ':') > 0 THEN ${FACET_SLOT_KEEP} ELSE ${SLOT_KEEP} END`;
/** A slot is sealed when no record came to it for this long (the aggregator's windows have closed). */
export const SEAL_AFTER = 300;

/**
 * The keys analysis/top groups by: the flow_records column, the key as the answer gives it (addresses
 * as text), and its SQL type.
 */
export const TOP_KEYS = {
  srcaddr: { column: 'srcaddr', sql: 'host(srcaddr)', type: 'text' },
  dstaddr: { column: 'dstaddr', sql: 'host(dstaddr)', type: 'text' },
  srcport: { column: 'srcport', sql: 'srcport', type: 'integer' },
  dstport: { column: 'dstport', sql: 'dstport', type: 'integer' },
  protocol: { column: 'protocol', sql: 'protocol', type: 'smallint', inSeries: true },
  interfaceId: { column: 'interface_id', sql: 'interface_id', type: 'text' },
  action: { column: 'action', sql: 'action', type: 'text', inSeries: true },
} as const;
export type TopKey = keyof typeof TOP_KEYS;

/**
 * The keys the daily and slot levels hold. The series holds protocol and action per window, which
 * answers their top-N exactly for any range (and with a query on them): keeping them in the levels
 * too only cost every fold and seal two more rows a record to group.
 */
export const LEVEL_KEYS = (Object.keys(TOP_KEYS) as TopKey[]).filter((k) => !('inSeries' in TOP_KEYS[k]));

/**
 * Facets: besides the keys of every OK record, the daily and slot levels keep those of the records
 * a facet picks, as dimension `<key>:<facet>` — a top-N whose query is the facet's (`action:REJECT`)
 * reads them instead of the records. REJECT: who was refused, the first question of an incident; 4 %
 * of the query benchmark's records, so ~15 % more rows to seal. Levels hold a facet's keys of the
 * slots sealed from flow_rollup_facets.since on (migration 017), whole days from the first UTC day
 * all of whose slots are.
 */
export const FACETS = { REJECT: { column: 'action', value: 'REJECT' } } as const;
export type Facet = keyof typeof FACETS;
export const facetDimension = (key: TopKey, facet: Facet): string => `${key}:${facet}`;

/** Every dimension of the daily and slot levels (LEVEL_KEYS, and each of them per facet): its key, and the facet whose records it holds (none: every OK record). */
const DIMENSIONS: { dimension: string; key: TopKey; facet?: Facet }[] = [
  ...LEVEL_KEYS.map((key) => ({ dimension: key, key })),
  ...(Object.keys(FACETS) as Facet[]).flatMap((facet) =>
    LEVEL_KEYS.map((key) => ({ dimension: facetDimension(key, facet), key, facet })),
  ),
];
export const LEVEL_DIMENSIONS = DIMENSIONS.map((d) => d.dimension);
/** A record the facet picks (SQL, over a record's columns). */
const facetSql = (facet: Facet) => `${FACETS[facet].column} = '${FACETS[facet].value}'`;

/** The record columns KEY_VALUES reads: the keys', and the facets'. */
const KEYED_COLUMNS = [
  ...new Set([...LEVEL_KEYS.map((k) => TOP_KEYS[k].column), ...Object.values(FACETS).map((f) => f.column)]),
];

/** The flow_records columns the rollups read: what the relation given to rollupPendingSql must have. */
export const ROLLUP_SOURCE_COLUMNS = [
  'log_topic_id',
  'account_id',
  'window_start',
  'window_end',
  'log_status',
  'bytes',
  'packets',
  ...Object.values(TOP_KEYS).map((k) => k.column),
];

/** Appends the OK rows of `source` (a relation with ROLLUP_SOURCE_COLUMNS) to flow_rollup_pending. */
export function rollupPendingSql(source: string): string {
  const columns = ROLLUP_SOURCE_COLUMNS.join(', ');
  return `INSERT INTO flow_rollup_pending (${columns}) SELECT ${columns} FROM ${source} WHERE log_status = 'OK'`;
}

/**
 * One (dimension, key as text) row per LEVEL_DIMENSIONS entry, for a CROSS JOIN LATERAL over a
 * record (SQL); a facet's dimension is NULL for a record the facet does not pick (joins on the
 * dimension drop those rows).
 */
export const KEY_VALUES = DIMENSIONS.map(({ dimension, key, facet }) =>
  facet
    ? `(CASE WHEN ${facetSql(facet)} THEN '${dimension}' END, ${TOP_KEYS[key].sql}::text)`
    : `('${dimension}', ${TOP_KEYS[key].sql}::text)`,
).join(', ');
const SUMS = 'coalesce(sum(bytes), 0), coalesce(sum(packets), 0), count(*)';
const SUMS_AS = 'coalesce(sum(bytes), 0) AS bytes, coalesce(sum(packets), 0) AS packets, count(*) AS flows';
const ADD =
  'bytes = r.bytes + excluded.bytes, packets = r.packets + excluded.packets, flows = r.flows + excluded.flows';
const NOW = 'extract(epoch FROM now())::bigint';

/**
 * The totals per (sid, dimension, key) of `records` (a relation with sid and KEYED_COLUMNS), one
 * GROUP BY per LEVEL_DIMENSIONS entry (a facet's over the records it picks), as (sid, dimension, key,
 * bytes, packets, flows) rows (SQL). Each groups by the key as text, as KEY_VALUES makes it. One
 * GROUP BY over KEY_VALUES' rows (ten a record) was 1.5 s of a 69,000-record slot's seal; the seal
 * took a median 5.83 s then, 4.15 s grouped this way (alternated, the same rows written).
 */
function keyTotalsSql(records: string): string {
  return DIMENSIONS.map(
    ({ dimension, key, facet }) =>
      `SELECT sid, '${dimension}' AS dimension, ${TOP_KEYS[key].sql}::text AS key, ${SUMS_AS} FROM ${records}` +
      `${facet ? ` WHERE ${facetSql(facet)}` : ''} GROUP BY 1, 3`,
  ).join(' UNION ALL ');
}

/**
 * The ports the series keeps as they are: the well-known ones, below this, which clients do not take
 * as their ephemeral ports, so a window has few of them (the query benchmark: ~30 series rows a
 * window). Any other port is -1 there; no port (ICMP) stays NULL. So `srcport:N` and `dstport:N` for
 * such a port are exact on the series, and no other comparison on a port is.
 */
export const SERIES_PORT_BELOW = 1024;
/** The record columns the series keeps after the window (the ports as SERIES_PORT_BELOW says). */
export const SERIES_COLUMNS = ['action', 'protocol', 'srcport', 'dstport'] as const;
const SERIES_KEY = SERIES_COLUMNS.map((c) =>
  c.endsWith('port') ? `CASE WHEN ${c} >= ${SERIES_PORT_BELOW} THEN -1 ELSE ${c} END` : c,
);

/**
 * Adds the records of `from` (a FROM clause over OK records, with its WHERE if any) to the series,
 * per window and SERIES_COLUMNS: an upsert statement.
 */
export function seriesAddSql(from: string): string {
  const columns = ['log_topic_id', 'account_id', 'window_start', 'window_end', ...SERIES_COLUMNS];
  return (
    `INSERT INTO flow_rollup_series AS r (${columns.join(', ')}, bytes, packets, flows) ` +
    `SELECT log_topic_id, account_id, window_start, window_end, ${SERIES_KEY.join(', ')}, ${SUMS} FROM ${from} ` +
    `GROUP BY ${columns.map((_, i) => i + 1).join(', ')} ` +
    `ON CONFLICT (${columns.join(', ')}) DO UPDATE SET ${ADD}`
  );
}

/**
 * Adds `source`'s rows (log_topic_id, account_id, dimension, slot, key, bytes, packets, flows) to
 * the daily totals of their slots' days: an upsert statement, for a WITH.
 */
function dailyAddSql(source: string): string {
  return (
    `INSERT INTO flow_rollup_daily AS r (log_topic_id, account_id, dimension, day, key, bytes, packets, flows) ` +
    `SELECT log_topic_id, account_id, dimension, slot - slot % ${DAY}, key, sum(bytes), sum(packets), sum(flows) ` +
    `FROM ${source} GROUP BY 1, 2, 3, 4, 5 ON CONFLICT (log_topic_id, account_id, dimension, day, key) DO UPDATE SET ${ADD}`
  );
}

/**
 * What every statement that writes the daily totals runs first, in its transaction: migration 016's
 * trigger refuses writers that do not say they add a slot's keys when it is sealed (a publisher of the
 * version before adds them at every fold, and would count them twice).
 */
export const ROLLUP_WRITER_SQL = "SET LOCAL flowlogs.rollup_writer = 'daily-at-seal'";

/**
 * Adds the OK rows of `source` (ROLLUP_SOURCE_COLUMNS) to the levels. A slot not sealed only notes
 * that records came (touched_at): its seal reads them from flow_records and adds them to the daily
 * totals. Late records, those of a sealed slot (the only ones summed per slot and key here), go to the
 * daily totals at once, and in the slot a kept key is added to; one it no longer keeps is not added
 * back (its earlier totals are gone): the slot's bounds grow by the most any such key brought, so
 * they still hold. The upserts take their rows in no particular order: one fold runs at a time
 * (foldRollup's advisory lock, which retention takes too), so no other writer waits on their row locks.
 */
export function rollupAddSql(source: string): string {
  // Whether the sealed slot kept the key of `p`: two lookups, each the slot key's index all the way
  // (IS NOT DISTINCT FROM is no index condition: it read every kept key of the slot's dimension per
  // key of a late record, 0.5 ms a record; a seal mid-stream made every record after it late).
  const slotKeyKept = (key: string) =>
    `SELECT 1 FROM flow_rollup_slot k WHERE k.log_topic_id = p.log_topic_id AND k.account_id = p.account_id ` +
    `AND k.dimension = p.dimension AND k.slot = p.slot AND ${key}`;
  const slotOf = `window_start - window_start % ${SLOT}`;
  return [
    `touched AS (SELECT g.log_topic_id, g.account_id, d.dimension, g.slot, coalesce(s.sealed, false) AS sealed ` +
      `FROM (SELECT DISTINCT log_topic_id, account_id, ${slotOf} AS slot FROM ${source} WHERE log_status = 'OK') g ` +
      `CROSS JOIN (VALUES ${LEVEL_DIMENSIONS.map((name) => `('${name}')`).join(', ')}) AS d (dimension) ` +
      `LEFT JOIN flow_rollup_slot_rest s ON s.log_topic_id = g.log_topic_id AND s.account_id = g.account_id ` +
      `AND s.dimension = d.dimension AND s.slot = g.slot)`,
    // The keys of the records of sealed slots only, each record's keys made once (joined to touched
    // first, Postgres made them for every dimension of the record's slot: 10 × 10 a record).
    `late_keyed AS MATERIALIZED (SELECT r.log_topic_id, r.account_id, r.window_start - r.window_start % ${SLOT} AS slot, d.dimension, d.key, r.bytes, r.packets ` +
      `FROM ${source} r CROSS JOIN LATERAL (VALUES ${KEY_VALUES}) AS d (dimension, key) WHERE r.log_status = 'OK' AND d.dimension IS NOT NULL ` +
      `AND EXISTS (SELECT 1 FROM touched t WHERE t.sealed AND t.log_topic_id = r.log_topic_id AND t.account_id = r.account_id AND t.slot = r.window_start - r.window_start % ${SLOT}))`,
    `late AS (SELECT p.*, CASE WHEN p.key IS NULL THEN EXISTS (${slotKeyKept('k.key IS NULL')}) ELSE EXISTS (${slotKeyKept('k.key = p.key')}) END AS kept ` +
      `FROM (SELECT t.log_topic_id, t.account_id, t.dimension, t.slot, r.key, ${SUMS_AS} FROM late_keyed r ` +
      `JOIN touched t ON t.sealed AND t.log_topic_id = r.log_topic_id AND t.account_id = r.account_id ` +
      `AND t.dimension = r.dimension AND t.slot = r.slot GROUP BY 1, 2, 3, 4, 5) p)`,
    `slot_added AS (INSERT INTO flow_rollup_slot AS r (log_topic_id, account_id, dimension, slot, key, bytes, packets, flows) ` +
      `SELECT log_topic_id, account_id, dimension, slot, key, bytes, packets, flows FROM late WHERE kept ` +
      `ON CONFLICT (log_topic_id, account_id, dimension, slot, key) DO UPDATE SET ${ADD})`,
    `rest_added AS (INSERT INTO flow_rollup_slot_rest AS r (log_topic_id, account_id, dimension, slot, sealed, touched_at, bytes_max, packets_max, flows_max) ` +
      `SELECT t.log_topic_id, t.account_id, t.dimension, t.slot, false, ${NOW}, coalesce(max(l.bytes) FILTER (WHERE NOT l.kept), 0), ` +
      `coalesce(max(l.packets) FILTER (WHERE NOT l.kept), 0), coalesce(max(l.flows) FILTER (WHERE NOT l.kept), 0) ` +
      `FROM touched t LEFT JOIN late l USING (log_topic_id, account_id, dimension, slot) GROUP BY 1, 2, 3, 4 ` +
      `ON CONFLICT (log_topic_id, account_id, dimension, slot) DO UPDATE SET touched_at = excluded.touched_at, ` +
      `bytes_max = r.bytes_max + excluded.bytes_max, packets_max = r.packets_max + excluded.packets_max, flows_max = r.flows_max + excluded.flows_max)`,
    `day_added AS (${dailyAddSql('late')})`,
    `series_added AS (${seriesAddSql(`${source} WHERE log_status = 'OK'`)})`,
  ].join(', ');
}

/**
 * Moves every pending row of the transaction's snapshot into the rollups: deleted and added in one
 * statement, so a crash adds all of them or none. Answers one row: `folded`, how many pending rows it
 * took, and `late`, how many of them were of sealed slots (each costs upserts of its own). Run with
 * SEAL_ROLLUP_SQL in one REPEATABLE READ transaction (see there).
 */
export const FOLD_ROLLUP_SQL =
  `WITH taken AS (DELETE FROM flow_rollup_pending RETURNING ${ROLLUP_SOURCE_COLUMNS.join(', ')}), ` +
  `${rollupAddSql('taken')} SELECT count(*)::int AS folded, ` +
  `(SELECT count(*) FROM late_keyed WHERE dimension = '${LEVEL_KEYS[0]}')::int AS late FROM taken`;

/**
 * Seals the slots no record came to for $1 seconds, from their OK records in flow_records: adds every
 * key's totals to the daily level, keeps the SLOT_KEEP first keys by each metric (FACET_SLOT_KEEP of a
 * facet's dimension) and records, per metric, the most any other key has (a bound on every key the
 * slot does not keep). Each record must count once: in the same REPEATABLE READ snapshot as
 * FOLD_ROLLUP_SQL, it reads exactly the records whose pending rows are folded (now or
 * before) — a record and its pending row are committed together — and a later fold routes the others
 * as late records. Run under the fold's lock. Answers `sealed`, how many (slot, key kind) pairs.
 */
export const SEAL_ROLLUP_SQL = `WITH due AS (
  SELECT log_topic_id, account_id, dimension, slot, row_number() OVER () AS part FROM flow_rollup_slot_rest
  WHERE NOT sealed AND touched_at <= ${NOW} - $1::bigint),
-- The due slots' records read once each, then summed per slot, dimension and key, then named by
-- their part (a due slot and dimension) for ranking: in this order whatever Postgres estimates of a
-- day partition not analyzed yet (it planned a scan of the slot per due dimension: a slot of 367,000
-- records sealed in 20 s, read once in 4.7 s). Grouping and sorting by numbers instead of the four
-- columns that name a part (text mostly) was a third of a seal.
slots AS (SELECT log_topic_id, account_id, slot, row_number() OVER () AS sid FROM (SELECT DISTINCT log_topic_id, account_id, slot FROM due) AS d),
records AS MATERIALIZED (
  SELECT s.sid, ${KEYED_COLUMNS.map((c) => `f.${c}`).join(', ')}, f.bytes, f.packets
  FROM slots s JOIN flow_records f ON f.log_topic_id = s.log_topic_id AND f.account_id = s.account_id
    AND f.window_start >= s.slot AND f.window_start < s.slot + ${SLOT} AND f.log_status = 'OK'),
sums AS (${keyTotalsSql('records')}),
per AS (
  SELECT due.part, sums.key, sums.bytes, sums.packets, sums.flows FROM sums JOIN slots USING (sid)
  JOIN due ON due.log_topic_id = slots.log_topic_id AND due.account_id = slots.account_id AND due.slot = slots.slot
    AND due.dimension = sums.dimension),
ranked AS (
  SELECT per.*, least(row_number() OVER (w ORDER BY bytes DESC, key), row_number() OVER (w ORDER BY packets DESC, key),
    row_number() OVER (w ORDER BY flows DESC, key)) AS place
  FROM per WINDOW w AS (PARTITION BY part)),
-- Keys a fold of the version before wrote to the slot while open (a publisher not upgraded yet) go
-- first: the count makes the delete run before the insert.
cleared AS (DELETE FROM flow_rollup_slot k USING due WHERE k.log_topic_id = due.log_topic_id AND k.account_id = due.account_id
  AND k.dimension = due.dimension AND k.slot = due.slot RETURNING 1),
kept AS (INSERT INTO flow_rollup_slot (log_topic_id, account_id, dimension, slot, key, bytes, packets, flows)
  SELECT due.log_topic_id, due.account_id, due.dimension, due.slot, r.key, r.bytes, r.packets, r.flows FROM ranked r JOIN due USING (part)
  WHERE r.place <= ${slotKeepSql('due.dimension')} AND (SELECT count(*) FROM cleared) >= 0),
daily AS (${dailyAddSql('(SELECT due.log_topic_id, due.account_id, due.dimension, due.slot, p.key, p.bytes, p.packets, p.flows FROM per p JOIN due USING (part)) AS keys')}),
bounds AS (SELECT part, max(r.bytes) AS bytes, max(r.packets) AS packets, max(r.flows) AS flows FROM ranked r JOIN due USING (part)
  WHERE r.place > ${slotKeepSql('due.dimension')} GROUP BY 1)
UPDATE flow_rollup_slot_rest r SET sealed = true, bytes_max = coalesce(b.bytes, 0), packets_max = coalesce(b.packets, 0),
  flows_max = coalesce(b.flows, 0)
FROM due LEFT JOIN bounds b USING (part)
WHERE r.log_topic_id = due.log_topic_id AND r.account_id = due.account_id AND r.dimension = due.dimension AND r.slot = due.slot`;

/**
 * Deletes the rollup rows of records whose window starts before $1 (those `where` also picks, if
 * given: a condition ending in AND) from every level, in one statement. A day or slot whose start is
 * before $1 goes whole: retention's cut-offs are whole days.
 */
export function rollupDeleteSql(where: string): string {
  const del = (name: string, table: string, column: string) =>
    `${name} AS (DELETE FROM ${table} WHERE ${where}${column} < $1::bigint)`;
  return `WITH ${[
    del('pending', 'flow_rollup_pending', 'window_start'),
    del('series', 'flow_rollup_series', 'window_start'),
    del('daily', 'flow_rollup_daily', 'day'),
    del('slots', 'flow_rollup_slot', 'slot'),
    del('rests', 'flow_rollup_slot_rest', 'slot'),
  ].join(', ')}`;
}

/**
 * After rollupDeleteSql with a cut-off $1 inside a day, for the log topics $2: that day's daily totals
 * again, from its records from $1 on (the ones kept) in sealed slots — less those still pending, which
 * a fold adds as late records; an open slot's seal adds its own.
 */
export const ROLLUP_DAY_REST_SQL = (() => {
  const keys = ROLLUP_SOURCE_COLUMNS.filter((c) => !['bytes', 'packets'].includes(c)).join(', ');
  const rows = (table: string, sign: string) =>
    `SELECT ${keys}, ${sign}coalesce(bytes, 0) AS bytes, ${sign}coalesce(packets, 0) AS packets, ${sign}1 AS flows FROM ${table} ` +
    `WHERE log_topic_id = ANY ($2) AND log_status = 'OK' AND window_start >= $1::bigint AND window_start < $1::bigint - $1::bigint % ${DAY} + ${DAY}`;
  return `INSERT INTO flow_rollup_daily (log_topic_id, account_id, dimension, day, key, bytes, packets, flows)
SELECT r.log_topic_id, r.account_id, d.dimension, r.window_start - r.window_start % ${DAY}, d.key, sum(r.bytes), sum(r.packets), sum(r.flows)
FROM (${rows('flow_records', '')} UNION ALL ${rows('flow_rollup_pending', '-')}) AS r
CROSS JOIN LATERAL (VALUES ${KEY_VALUES}) AS d (dimension, key)
JOIN flow_rollup_slot_rest s ON s.log_topic_id = r.log_topic_id AND s.account_id = r.account_id AND s.dimension = d.dimension
  AND s.slot = r.window_start - r.window_start % ${SLOT} AND s.sealed
WHERE $1::bigint % ${DAY} <> 0
GROUP BY 1, 2, 3, 4, 5 HAVING sum(r.flows) <> 0`;
})();
