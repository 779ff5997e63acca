/**
 * The pipeline benchmark's peer: pmacctd reading the same capture as a savefile and writing
 * 60-second aggregates of (src_host, dst_host, src_port, dst_port, proto) into PostgreSQL with its
 * pgsql plugin (table acct_v9 from the schema pmacct ships, sql_table_version 9).
 *
 * Timing: pmacctd (core + plugin) runs under GNU time; with a savefile the core sleeps
 * pcap_savefile_delay (1 s, the least) before reading, and at the end of the file the plugin purges
 * its cache into Postgres and only then does the process exit (its "Purging cache - END" precedes
 * "OK, Exiting"), so exit ≈ the last row written. The fixed cost (start-up sleep, connect, exit) is
 * timed on a 1000-packet capture and subtracted, as bench/capture.ts does for the print plugin.
 * Rows are counted and summed after each run: their packets must equal the capture's.
 *
 * Two write modes: `insert` is pmacct's default (UPDATE, then INSERT when no row matched, one
 * statement per aggregate); `copy` is its fastest documented one (sql_dont_try_update + sql_use_copy,
 * which needs sql_history == sql_refresh_time).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import pg from 'pg';
import { runTimed, type Timed } from './measure.js';
import { sampleBackendsAside } from './backend-cpu.js';

export type PmacctMode = 'insert' | 'copy';

/** Pids of pmacctd pgsql plugin / writer processes (pmacct retitles them "pmacctd: pgsql Plugin …"). */
export function pgsqlWriters(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (/pmacctd/.test(cmd) && /pgsql/i.test(cmd)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

export interface PmacctPgRun extends Timed {
  mode: PmacctMode;
  rows: number;
  packets: number;
  bytes: number;
  bins: number;
  /** Seconds from starting pmacctd until its last pgsql writer process had exited (≥ wallSec). */
  doneSec: number;
  config: string;
  commandLine: string;
  /** CPU seconds of the Postgres backends of its database over the run. */
  postgresCpuSec: number;
  /** "Purging cache - END (…, QN: a/b, ET: n)" lines of the plugin: its queries and seconds. */
  purges: string[];
}

const SCHEMA_DIR = '/usr/share/doc/pmacct/sql';
export const PMACCT_TABLE = 'acct_v9';

/** The v9 table script as pmacct ships it (plain or gzipped), without its GRANTs to a `pmacct` role we do not make. */
export function pmacctSchema(): { path: string; sql: string } {
  for (const name of ['pmacct-create-table_v9.pgsql', 'pmacct-create-table_v9.pgsql.gz']) {
    const path = join(SCHEMA_DIR, name);
    if (!existsSync(path)) continue;
    const raw = readFileSync(path);
    const sql = (name.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    return {
      path,
      sql: sql
        .split('\n')
        .filter((l) => !/^\s*GRANT\b/i.test(l))
        .join('\n'),
    };
  }
  throw new Error(
    `pmacct's SQL schema (pmacct-create-table_v9.pgsql) is not in ${SCHEMA_DIR}: is the Debian package pmacct installed?`,
  );
}

function adminUrl(host: string, user: string, db = 'postgres'): string {
  return `postgres://${user}@${host}:5432/${db}`;
}

/** (Re)creates database `db` with pmacct's v9 table (and its `proto` table, loaded with COPY FROM stdin). */
export async function preparePmacctDb(host: string, user: string, db: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl(host, user) });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(db)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(db)}`);
  } finally {
    await admin.end();
  }
  const { path, sql } = pmacctSchema();
  // The script ends with `COPY proto FROM stdin` + inline data, which node-postgres cannot feed: run it through psql.
  const { spawnSync } = await import('node:child_process');
  const psql = spawnSync('psql', ['-h', host, '-U', user, '-d', db, '-q', '-v', 'ON_ERROR_STOP=1', '-f', '-'], {
    input: sql,
    encoding: 'utf8',
  });
  if (psql.status !== 0) throw new Error(`psql ${path} into ${db} failed (${psql.status}): ${psql.stderr}`);
  return path;
}

export async function dropPmacctDb(host: string, user: string, db: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl(host, user) });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(db)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

async function tableSums(
  host: string,
  user: string,
  db: string,
): Promise<{ rows: number; packets: number; bytes: number; bins: number }> {
  const client = new pg.Client({ connectionString: adminUrl(host, user, db) });
  await client.connect();
  try {
    const r = await client.query(
      `SELECT count(*)::float8 AS rows, coalesce(sum(packets), 0)::float8 AS packets, coalesce(sum(bytes), 0)::float8 AS bytes, count(DISTINCT stamp_inserted)::float8 AS bins FROM ${PMACCT_TABLE}`,
    );
    return r.rows[0] as { rows: number; packets: number; bytes: number; bins: number };
  } finally {
    await client.end();
  }
}

export async function truncatePmacct(host: string, user: string, db: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl(host, user, db) });
  await client.connect();
  try {
    await client.query(`TRUNCATE ${PMACCT_TABLE}`);
  } finally {
    await client.end();
  }
}

export function pmacctConfig(
  file: string,
  mode: PmacctMode,
  host: string,
  user: string,
  db: string,
  historySec: number,
): string {
  return [
    `pcap_savefile: ${file}`,
    'pcap_savefile_wait: false',
    'pcap_savefile_delay: 1',
    'aggregate: src_host, dst_host, src_port, dst_port, proto',
    'plugins: pgsql',
    `sql_host: ${host}`,
    `sql_user: ${user}`,
    'sql_passwd: unused-trust-auth',
    `sql_db: ${db}`,
    `sql_table: ${PMACCT_TABLE}`,
    'sql_table_version: 9',
    `sql_refresh_time: ${historySec}`,
    `sql_history: ${historySec}s`,
    ...(mode === 'copy' ? ['sql_dont_try_update: true', 'sql_use_copy: true'] : []),
    // Same ring as bench/lib/peers.ts: with the defaults the core mostly sleeps waiting for the plugin.
    'plugin_pipe_size: 10240000',
    'plugin_buffer_size: 102400',
    '',
  ].join('\n');
}

/** Empties the table, runs pmacctd on `file` into it, and sums what it wrote. */
export async function runPmacctPg(
  binary: string,
  file: string,
  mode: PmacctMode,
  workDir: string,
  host: string,
  user: string,
  db: string,
  historySec = 60,
): Promise<PmacctPgRun> {
  await truncatePmacct(host, user, db);
  const config = pmacctConfig(file, mode, host, user, db, historySec);
  const configPath = join(workDir, `pmacctd-pgsql-${mode}.conf`);
  writeFileSync(configPath, config);
  const args = ['-f', configPath];
  const started = Date.now();
  const backends = sampleBackendsAside(db);
  const run = runTimed(binary, args, { timeoutSec: 1800 });
  const output = `${run.stdout}\n${run.stderr}`;
  if (run.exitCode !== 0) throw new Error(`pmacctd (${mode}) exited with ${run.exitCode}: ${output.slice(-2000)}`);
  const errors = output.split('\n').filter((l) => /^ERROR/.test(l));
  if (errors.length) throw new Error(`pmacctd (${mode}) reported errors: ${errors.slice(0, 5).join(' | ')}`);
  const purges = output
    .split('\n')
    .filter((l) => l.includes('Purging cache - END'))
    .map((l) => l.replace(/^.*\*\*\* /, '').replace(/ \*\*\*$/, ''));
  // The plugin's cache purges run in forked writer processes that outlive the core (each purge one
  // transaction, invisible until it commits): wait until no pgsql writer is left, then sum the table.
  let doneAt = Date.now();
  while (pgsqlWriters().length && Date.now() - started < 1800_000) {
    await new Promise((r) => setTimeout(r, 200));
    doneAt = Date.now();
  }
  const postgresCpuSec = await backends.stop();
  const sums = await tableSums(host, user, db);
  return {
    ...run,
    mode,
    postgresCpuSec,
    ...sums,
    doneSec: Math.max(run.wallSec, (doneAt - started) / 1000),
    config,
    commandLine: [binary, ...args].join(' '),
    purges,
  };
}
