/** Flow records into Postgres (with their hourly rollup), and which errors of that a retry gets past. */
import type { FlowRecord } from '@flowlogs/contracts';
import type { Pool } from '@flowlogs/db';
import { ROWS_PER_INSERT, insertStatement } from './rows.js';

/** Stores the records (their day partitions must exist) a chunk a statement; answers how many were new. */
export async function insertRecords(pool: Pool, records: FlowRecord[]): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < records.length; i += ROWS_PER_INSERT) {
    const { text, values } = insertStatement(records.slice(i, i + ROWS_PER_INSERT));
    inserted += (await pool.query<{ inserted: number }>(text, values)).rows[0].inserted;
  }
  return inserted;
}

/** "Postgres is not reachable right now": wait and retry, however long it takes. */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return /^(08|57P)/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code) || /Connection terminated|connect/i.test((err as Error).message ?? '');
}

/**
 * A deadlock or serialization failure: publishers storing at the same time upserted the same rollup
 * rows (or inserted the same records) in another order. The statement was rolled back whole; a retry
 * succeeds, so it is not a bad batch.
 */
export function isConcurrencyConflict(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '40P01' || code === '40001';
}
