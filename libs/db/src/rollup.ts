/**
 * The hourly rollup of flow_records (table flow_rollup_hourly, migration 004): per log topic, account,
 * hour of window start and key, the totals of the OK records. analysis/top reads it for the whole
 * hours of a range instead of the records. Whatever inserts records appends the rows the insert
 * actually made to flow_rollup_pending in the same statement (migration 005), so a replayed batch
 * never counts twice; FOLD_ROLLUP_SQL moves them into the rollup, and top reads what is still pending
 * beside it. SQL text only, no I/O.
 */

export const HOUR = 3600;

/**
 * The keys analysis/top groups by: the flow_records column, the key as the answer gives it (addresses
 * as text), and its SQL type. The rollup keeps every one: each pays where the records are many. In the
 * query benchmark's data an hour of 278,000 records holds 46,000 source and as many destination
 * addresses, 28,000 source and as many destination ports (records are per direction, so ephemeral
 * ports are sources as often as destinations), 5,000 interfaces, 3 protocols and 2 actions.
 */
export const TOP_KEYS = {
  srcaddr: { column: 'srcaddr', sql: 'host(srcaddr)', type: 'text' },
  dstaddr: { column: 'dstaddr', sql: 'host(dstaddr)', type: 'text' },
  srcport: { column: 'srcport', sql: 'srcport', type: 'integer' },
  dstport: { column: 'dstport', sql: 'dstport', type: 'integer' },
  protocol: { column: 'protocol', sql: 'protocol', type: 'smallint' },
  interfaceId: { column: 'interface_id', sql: 'interface_id', type: 'text' },
  action: { column: 'action', sql: 'action', type: 'text' },
} as const;
export type TopKey = keyof typeof TOP_KEYS;

/** The flow_records columns the rollup reads: what the relation given to rollupUpsertSql must have. */
export const ROLLUP_SOURCE_COLUMNS = [
  'log_topic_id',
  'account_id',
  'window_start',
  'log_status',
  'bytes',
  'packets',
  ...Object.values(TOP_KEYS).map((k) => k.column),
];

/**
 * Adds the OK records of `source` (a relation with ROLLUP_SOURCE_COLUMNS: the rows of an INSERT …
 * RETURNING, a table) to the rollup. Rows are upserted in the order of the table's unique key, so
 * concurrent publishers take their row locks in one order.
 */
export function rollupUpsertSql(source: string): string {
  const keys = Object.entries(TOP_KEYS)
    .map(([name, k]) => `('${name}', ${k.sql}::text)`)
    .join(', ');
  return `INSERT INTO flow_rollup_hourly AS r (log_topic_id, account_id, dimension, hour, key, bytes, packets, flows)
    SELECT log_topic_id, account_id, d.dimension, window_start - window_start % ${HOUR}, d.key, coalesce(sum(bytes), 0), coalesce(sum(packets), 0), count(*)
    FROM ${source} CROSS JOIN LATERAL (VALUES ${keys}) AS d (dimension, key) WHERE log_status = 'OK'
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (log_topic_id, account_id, dimension, hour, key)
    DO UPDATE SET bytes = r.bytes + excluded.bytes, packets = r.packets + excluded.packets, flows = r.flows + excluded.flows`;
}

/** Appends the OK rows of `source` (a relation with ROLLUP_SOURCE_COLUMNS) to flow_rollup_pending. */
export function rollupPendingSql(source: string): string {
  const columns = ROLLUP_SOURCE_COLUMNS.join(', ');
  return `INSERT INTO flow_rollup_pending (${columns}) SELECT ${columns} FROM ${source} WHERE log_status = 'OK'`;
}

/**
 * Moves every committed pending row into the rollup: deleted and added in one statement, so a crash
 * adds all of them or none. Answers one row: `folded`, how many pending rows it took.
 */
export const FOLD_ROLLUP_SQL =
  `WITH taken AS (DELETE FROM flow_rollup_pending RETURNING ${ROLLUP_SOURCE_COLUMNS.join(', ')}), ` +
  `added AS (${rollupUpsertSql('taken')}) SELECT count(*)::int AS folded FROM taken`;
