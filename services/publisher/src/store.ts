/** Flow records into Postgres (with their rollups), the rollup's fold, and which errors of these a retry gets past. */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import type { FlowRecord } from '@flowlogs/contracts';
import { ADVISORY_LOCKS, FOLD_ROLLUP_SQL, inTransaction, SEAL_AFTER, SEAL_ROLLUP_SQL, type Pool } from '@flowlogs/db';
import { COPY_STAGING, INSERT_STAGED, STAGING_TABLE_SQL, copyText } from './rows.js';

/**
 * Stores the records (their day partitions must exist) in one transaction: COPY into a staging
 * table, then one idempotent insert from it (with the rollup's pending rows). COPY measured about a quarter faster
 * than one multi-row statement for new batches, and twice as fast for replayed ones (README,
 * Performance). Answers how many records were new.
 */
export async function insertRecords(pool: Pool, records: FlowRecord[]): Promise<number> {
  return inTransaction(pool, async (client) => {
    await client.query(STAGING_TABLE_SQL);
    await pipeline(Readable.from([copyText(records)]), client.query(copyFrom(COPY_STAGING)));
    return (await client.query<{ inserted: number }>(INSERT_STAGED)).rows[0].inserted;
  });
}

/**
 * Any fixed number: one publisher folds the rollup at a time (concurrent folds would only wait on
 * each other), and retention holds it while it deletes rollup rows with their records.
 */

/**
 * Moves the rollup's pending rows into the rollups (FOLD_ROLLUP_SQL) and seals the slots no record
 * came to for `sealAfter` seconds (SEAL_ROLLUP_SQL), unless another publisher is doing it now. Answers
 * how many pending rows it folded.
 */
export async function foldRollup(pool: Pool, sealAfter = SEAL_AFTER): Promise<number> {
  return inTransaction(pool, async (client) => {
    const {
      rows: [lock],
    } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [ADVISORY_LOCKS.rollupFold]);
    if (!lock.ok) return 0;
    const folded = (await client.query<{ folded: number }>(FOLD_ROLLUP_SQL)).rows[0].folded;
    await client.query(SEAL_ROLLUP_SQL, [sealAfter]);
    return folded;
  });
}

/** "Postgres is not reachable right now": wait and retry, however long it takes. */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return (
    /^(08|57P)/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code) ||
    /Connection terminated|connect/i.test((err as Error).message ?? '')
  );
}

/**
 * A deadlock or serialization failure: publishers storing at the same time inserted the same records
 * in another order (a partition's batch replayed by its new owner while the old one still stores it).
 * The statement was rolled back whole; a retry succeeds, so it is not a bad batch.
 */
export function isConcurrencyConflict(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '40P01' || code === '40001';
}
