/** Flow records into Postgres (with their rollups), the rollup's fold, and which errors of these a retry gets past. */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import type { FlowRecord } from '@flowlogs/contracts';
import {
  ADVISORY_LOCKS,
  FOLD_ROLLUP_SQL,
  inTransaction,
  ROLLUP_WRITER_SQL,
  SEAL_AFTER,
  SEAL_ROLLUP_SQL,
  type Pool,
  type PoolClient,
} from '@flowlogs/db';
import {
  COPY_PENDING,
  COPY_RECORDS,
  COPY_STAGING,
  INSERT_STAGED,
  STAGING_TABLE_SQL,
  copyText,
  pendingCopyText,
} from './rows.js';

const copyIn = (client: PoolClient, statement: string, chunks: string[]) =>
  pipeline(Readable.from(chunks), client.query(copyFrom(statement)));

/**
 * Stores the records (their day partitions must exist) once each, in one transaction, and answers how
 * many were new. A batch is nearly always new: it is COPYed straight into flow_records and its OK
 * records into the rollup's pending rows. Only a replay (after a crash, a failed commit or a
 * rebalance) holds records stored before: the primary key refuses it whole (unique violation, the
 * transaction rolled back), and it goes through a staging table and one INSERT … ON CONFLICT DO
 * NOTHING that adds to the rollup only the records it inserted. The straight COPY took about a third less
 * Postgres CPU a record than staging every batch (docs/performance.md).
 */
export async function insertRecords(pool: Pool, records: FlowRecord[]): Promise<number> {
  try {
    return await inTransaction(pool, async (client) => {
      await copyIn(client, COPY_RECORDS, copyText(records));
      const pending = pendingCopyText(records);
      if (pending.length) await copyIn(client, COPY_PENDING, pending);
      return records.length;
    });
  } catch (err) {
    if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
  }
  return inTransaction(pool, async (client) => {
    await client.query(STAGING_TABLE_SQL);
    await copyIn(client, COPY_STAGING, copyText(records));
    return (await client.query<{ inserted: number }>(INSERT_STAGED)).rows[0].inserted;
  });
}

const UNIQUE_VIOLATION = '23505';

/** A fold: how many pending rows it folded, and how many times it began again after a serialization failure. */
export interface Fold {
  folded: number;
  /** Of those, the records of slots already sealed. */
  late: number;
  retried: number;
}

/** Tries of a fold that serialization failures ended (another fold or retention committed meanwhile). */
const FOLD_TRIES = 3;

/**
 * Moves the rollup's pending rows into the rollups (FOLD_ROLLUP_SQL) and seals the slots no record
 * came to for `sealAfter` seconds (SEAL_ROLLUP_SQL), unless another publisher is doing it now. Both in
 * one REPEATABLE READ transaction: the seal reads the records of exactly the pending rows folded, and
 * a crash adds all or nothing. A serialization failure (a fold or retention that committed after this
 * snapshot was taken, before the lock) is tried again.
 */
export async function foldRollup(pool: Pool, sealAfter = SEAL_AFTER): Promise<Fold> {
  for (let retried = 0; ; retried++) {
    try {
      const fold = await inTransaction(
        pool,
        async (client) => {
          const {
            rows: [lock],
          } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
            ADVISORY_LOCKS.rollupFold,
          ]);
          if (!lock.ok) return { folded: 0, late: 0 };
          // The memory to sum and rank a busy slot's keys without spilling to disk: a seal of 414,000
          // records took 7.8 s with the default 4 MB, 6.0 s with this (no faster with more).
          await client.query(`${ROLLUP_WRITER_SQL}; SET LOCAL work_mem = '32MB'`);
          const [folded] = (await client.query<Omit<Fold, 'retried'>>(FOLD_ROLLUP_SQL)).rows;
          await client.query(SEAL_ROLLUP_SQL, [sealAfter]);
          return folded;
        },
        'REPEATABLE READ',
      );
      return { ...fold, retried };
    } catch (err) {
      if ((err as { code?: string }).code !== SERIALIZATION_FAILURE || retried + 1 >= FOLD_TRIES) throw err;
    }
  }
}

const SERIALIZATION_FAILURE = '40001';

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
