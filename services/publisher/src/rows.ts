/**
 * Flow records as rows of flow_records and of its hourly rollup: the COPY text of a batch, and the
 * statement that moves it from its staging table into the records and the rollup's pending rows. Pure.
 */
import { type FlowRecord, RECORD_COLUMNS as COLUMNS, recordRow } from '@flowlogs/contracts';
import { ROLLUP_SOURCE_COLUMNS, rollupPendingSql } from '@flowlogs/db';

/** A value in COPY's text format: \N for NULL; backslash, tab, newline and carriage return escaped. */
function copyValue(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  const s = String(v);
  return /[\\\t\n\r]/.test(s)
    ? s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : s;
}

/** The batch as COPY text, one line a record, in COPY_STAGING's column order. */
export function copyText(records: FlowRecord[]): string {
  let out = '';
  for (const r of records) out += `${recordRow(r).map(copyValue).join('\t')}\n`;
  return out;
}

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
