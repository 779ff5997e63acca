/**
 * Flow records as rows of flow_records and of the rollup's pending rows: the COPY text of a batch,
 * and the statement that moves a staged batch into both when some of it may be stored already. Pure.
 */
import { FIELDS, type FlowRecord, RECORD_COLUMNS as COLUMNS, RECORD_COLUMN_KEYS } from '@flowlogs/contracts';
import { ROLLUP_SOURCE_COLUMNS, rollupPendingSql } from '@flowlogs/db';

const ESCAPED = /[\\\t\n\r]/;

/** A value in COPY's text format: \N for NULL; backslash, tab, newline and carriage return escaped. */
function copyValue(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  // Most of a record's values are numbers: no string to search for what to escape.
  if (typeof v === 'number') return `${v}`;
  const s = String(v);
  return ESCAPED.test(s)
    ? s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : s;
}

/** The record's values of `keys` as one line of COPY text. */
function copyLine(r: FlowRecord, keys: readonly (keyof FlowRecord)[]): string {
  let line = copyValue(r[keys[0]]);
  for (let i = 1; i < keys.length; i++) line += `\t${copyValue(r[keys[i]])}`;
  return `${line}\n`;
}

/**
 * Lines of COPY text per chunk. A batch's text as one string (tens of thousands of records) is a rope
 * V8 flattens when the COPY stream turns it into bytes: 7.9 µs a record at 20,000 records against
 * 1.7 µs in chunks of this many (a micro-run of copyText; docs/performance.md).
 */
export const COPY_CHUNK_RECORDS = 512;

/** The records `pick` takes (all without it), their values of `keys` as COPY text, in chunks of COPY_CHUNK_RECORDS lines. */
function copyChunks(
  records: FlowRecord[],
  keys: readonly (keyof FlowRecord)[],
  pick?: (r: FlowRecord) => boolean,
): string[] {
  const chunks: string[] = [];
  let chunk = '';
  let lines = 0;
  for (const r of records) {
    if (pick && !pick(r)) continue;
    chunk += copyLine(r, keys);
    if (++lines === COPY_CHUNK_RECORDS) {
      chunks.push(chunk);
      chunk = '';
      lines = 0;
    }
  }
  if (lines) chunks.push(chunk);
  return chunks;
}

/** The batch as COPY text, one line a record, in COLUMNS' order (COPY_RECORDS, COPY_STAGING). */
export const copyText = (records: FlowRecord[]): string[] => copyChunks(records, RECORD_COLUMN_KEYS);

/** The record keys of the rollup's source columns (each a field's column). */
const PENDING_KEYS = ROLLUP_SOURCE_COLUMNS.map((c) => {
  const field = FIELDS.find((f) => f.column === c);
  if (!field) throw new Error(`rollup column ${c} is no field's column`);
  return field.key;
});

/** The rollup's pending rows of a batch, as COPY text for COPY_PENDING: its OK records, as rollupPendingSql takes them. */
export const pendingCopyText = (records: FlowRecord[]): string[] =>
  copyChunks(records, PENDING_KEYS, (r) => r.logStatus === 'OK');

/** A batch none of which is stored yet: straight into the records and the rollup's pending rows. */
export const COPY_RECORDS = `COPY flow_records (${COLUMNS.join(',')}) FROM STDIN`;
export const COPY_PENDING = `COPY flow_rollup_pending (${ROLLUP_SOURCE_COLUMNS.join(',')}) FROM STDIN`;

/** The staging table of one transaction (dropped at its commit), and how to fill it. */
export const STAGING_TABLE_SQL = 'CREATE TEMP TABLE flow_records_staging (LIKE flow_records) ON COMMIT DROP';
export const COPY_STAGING = `COPY flow_records_staging (${COLUMNS.join(',')}) FROM STDIN`;

/**
 * An idempotent insert of the staged batch: a record stored before (same recordId and window) is
 * left as it is. The records it does insert, and only those, go to the rollup's pending rows in the
 * same statement, so a replay adds nothing twice. Answers one row: `inserted`, how many were new.
 */
export const INSERT_STAGED =
  `WITH inserted AS (INSERT INTO flow_records (${COLUMNS.join(',')}) SELECT ${COLUMNS.join(',')} FROM flow_records_staging ` +
  `ON CONFLICT (record_id, window_start) DO NOTHING RETURNING ${ROLLUP_SOURCE_COLUMNS.join(', ')}), pending AS (${rollupPendingSql('inserted')}) ` +
  'SELECT count(*)::int AS inserted FROM inserted';
