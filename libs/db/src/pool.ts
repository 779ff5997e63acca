import { readFileSync } from 'node:fs';
import pg from 'pg';

// bigint (int8) columns hold unix seconds and counters well inside 2^53: read them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

const SSL_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const;

function readUrlFile(param: string, path: string, read: (path: string) => Buffer): string {
  try {
    return read(path).toString('utf8');
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    throw new Error(`DATABASE_URL: cannot read ${param} ${path}: ${code ?? message}`);
  }
}

/**
 * node-postgres's connection settings for a URL, with libpq's meaning of its TLS parameters: sslmode
 * `disable`; `require` (encrypted, the server not checked — unless sslrootcert is given, then as
 * verify-ca); `verify-ca` (its certificate signed by sslrootcert's CA); `verify-full` (that, and
 * issued for the host connected to); sslrootcert `system` for Node's public CAs; sslcert and sslkey
 * for a client certificate. node-postgres's own reading of them differs (require verifies the host
 * too, and a file it cannot read fails at the first query with no name), hence this. The files are
 * read here; `read` is for tests.
 */
export function pgConnection(
  url: string,
  read: (path: string) => Buffer = (path) => readFileSync(path),
): Pick<pg.ClientConfig, 'connectionString' | 'ssl'> {
  const parsed = new URL(url);
  const param = (name: (typeof SSL_PARAMS)[number]) => parsed.searchParams.get(name) ?? undefined;
  const [mode, rootCert, cert, key] = SSL_PARAMS.map(param);
  for (const name of SSL_PARAMS) parsed.searchParams.delete(name);
  const connectionString = parsed.toString();
  if (mode === undefined) {
    if (rootCert || cert || key) throw new Error('DATABASE_URL: sslrootcert, sslcert or sslkey given without sslmode');
    return { connectionString };
  }
  if (mode === 'disable') return { connectionString, ssl: false };
  if (!['require', 'verify-ca', 'verify-full'].includes(mode))
    throw new Error(
      `DATABASE_URL: sslmode=${mode} is not supported (disable, require, verify-ca or verify-full: node-postgres cannot fall back to plaintext)`,
    );
  if ((cert === undefined) !== (key === undefined))
    throw new Error('DATABASE_URL: sslcert and sslkey go together (a client certificate and its key)');
  const ca = rootCert && rootCert !== 'system' ? readUrlFile('sslrootcert', rootCert, read) : undefined;
  const client = cert && key ? { cert: readUrlFile('sslcert', cert, read), key: readUrlFile('sslkey', key, read) } : {};
  const checked = mode === 'verify-ca' || mode === 'verify-full' || ca !== undefined;
  return {
    connectionString,
    ssl: {
      ...client,
      ...(ca !== undefined && { ca }),
      rejectUnauthorized: checked,
      // verify-ca (and require with a CA): the chain is checked, not the name.
      ...(mode !== 'verify-full' && { checkServerIdentity: () => undefined }),
    },
  };
}

export function createPool(url: string, max = 10): pg.Pool {
  // No JIT: the statements here are short, and compiling one took longer than running it (the
  // rollup's seal over 10 M records: 0.67 s of JIT at every fold; a top-N: 0.1–0.4 s). A DATABASE_URL
  // with an `options` parameter of its own replaces this one.
  const pool = new pg.Pool({ ...pgConnection(url), options: '-c jit=off', max });
  // An idle client's error (e.g. the server restarted) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // Nor a checked-out client's between two of its queries (pool.connect(): a transaction, a COPY):
  // its next query fails with the error, and the holder releases it as broken.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * Runs `fn` in one transaction (READ COMMITTED unless `isolation` says) on one pooled connection, and
 * answers what it answers. A connection whose transaction failed is closed, not reused: it may be
 * lost, or in the middle of a COPY.
 */
export async function inTransaction<R>(
  pool: pg.Pool,
  fn: (client: PoolClient) => Promise<R>,
  isolation?: 'REPEATABLE READ',
): Promise<R> {
  const client = await pool.connect();
  let failed = false;
  try {
    await client.query(isolation ? `BEGIN ISOLATION LEVEL ${isolation}` : 'BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    failed = true;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release(failed);
  }
}

/** Creates the database named in `url` when it does not exist, through the server's `postgres` database. */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL ${url} names no database`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client(pgConnection(admin.toString()));
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created meanwhile by another process
      });
    }
  } finally {
    await client.end();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client(pgConnection(admin.toString()));
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
