/**
 * The physical anchor of the records-heavy aim: the records phase 1 stored, COPYed straight into
 * flow_records of a database of its own (the same migrations: the same columns and indexes), in one
 * COPY and one transaction, on one connection — what Postgres alone takes to store those rows on this
 * machine: no dedup, no rollup, no Kafka, nothing else of the pipeline running.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { RECORD_COLUMNS } from '@flowlogs/contracts';
import { createPool, dropDatabase, ensureDatabase, ensureDayPartitions, migrate, type Pool } from '@flowlogs/db';
import { procCpuSec } from './pipeline-services.js';

export interface CopyAnchor {
  rows: number;
  /** BEGIN → COMMIT of the COPY. */
  seconds: number;
  /** CPU seconds of the Postgres backend that ran it. */
  backendCpuSec: number;
}

/** The records of one ENI, read from `source`, COPYed into a fresh database at `url` (dropped afterwards). */
export async function copyAnchor(source: Pool, url: string, interfaceId: string): Promise<CopyAnchor> {
  const columns = RECORD_COLUMNS.join(', ');
  const chunks: Buffer[] = [];
  const reader = await source.connect();
  try {
    const escaped = interfaceId.replace(/'/g, "''");
    const out = reader.query(
      copyTo(
        `COPY (SELECT ${columns} FROM flow_records WHERE interface_id = '${escaped}' ORDER BY window_start) TO STDOUT`,
      ),
    );
    for await (const chunk of out) chunks.push(chunk as Buffer);
  } finally {
    reader.release();
  }
  const windowStarts = (
    await source.query<{ w: number }>('SELECT DISTINCT window_start AS w FROM flow_records WHERE interface_id = $1', [
      interfaceId,
    ])
  ).rows.map((r) => r.w);

  await dropDatabase(url);
  await ensureDatabase(url);
  const pool = createPool(url, 1);
  try {
    await migrate(pool);
    await ensureDayPartitions(pool, windowStarts, new Set());
    const client = await pool.connect();
    try {
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const cpu0 = procCpuSec(pid) ?? NaN;
      const t0 = performance.now();
      await client.query('BEGIN');
      await pipeline(Readable.from(chunks), client.query(copyFrom(`COPY flow_records (${columns}) FROM STDIN`)));
      await client.query('COMMIT');
      const seconds = (performance.now() - t0) / 1000;
      const backendCpuSec = (procCpuSec(pid) ?? NaN) - cpu0;
      const rows = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM flow_records')).rows[0].n;
      return { rows, seconds, backendCpuSec };
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
    await dropDatabase(url);
  }
}
