/** Flow records as rows of flow_records and of its hourly rollup: one multi-row statement per chunk, parameterised. Pure. */
import type { FlowRecord } from '@flowlogs/contracts';
import { ROLLUP_SOURCE_COLUMNS, rollupUpsertSql } from '@flowlogs/db';

const COLUMNS = [
  'record_id', 'window_start', 'window_end', 'log_topic_id', 'flow_log_id', 'account_id', 'interface_id', 'srcaddr', 'dstaddr',
  'srcport', 'dstport', 'protocol', 'packets', 'bytes', 'start_time', 'end_time', 'action', 'log_status', 'record',
] as const;

/** Postgres allows 65535 parameters per statement. */
export const ROWS_PER_INSERT = Math.floor(65535 / COLUMNS.length);

function rowValues(r: FlowRecord): unknown[] {
  return [
    r.recordId, r.windowStart, r.windowEnd, r.logTopicId, r.flowLogId, r.accountId, r.interfaceId, r.srcaddr, r.dstaddr,
    r.srcport, r.dstport, r.protocol, r.packets, r.bytes, r.start, r.end, r.action, r.logStatus, JSON.stringify(r),
  ];
}

/**
 * An idempotent insert: a record stored before (same recordId and window) is left as it is. The
 * records it does insert, and only those, are added to the hourly rollup in the same statement, so a
 * replay adds nothing twice. Answers one row: `inserted`, how many records were new.
 */
export function insertStatement(records: FlowRecord[]): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const tuples = records.map((r) => {
    const start = values.length;
    values.push(...rowValues(r));
    return `(${COLUMNS.map((_, i) => `$${start + i + 1}`).join(',')})`;
  });
  return {
    text: `WITH inserted AS (INSERT INTO flow_records (${COLUMNS.join(',')}) VALUES ${tuples.join(',')} ON CONFLICT (record_id, window_start) DO NOTHING `
      + `RETURNING ${ROLLUP_SOURCE_COLUMNS.join(', ')}), rolled_up AS (${rollupUpsertSql('inserted')}) SELECT count(*)::int AS inserted FROM inserted`,
    values,
  };
}
