/**
 * TLS on the machine's PostgreSQL, for the tests that connect with sslmode=verify-full: a server
 * certificate for 127.0.0.1 and localhost (libs/local-kafka's local CA) in the data directory's
 * `flowlogs-tls/`, owned by the server's user, and `ssl = on` (ALTER SYSTEM, then a reload). Idempotent:
 * once on with that certificate, nothing changes. Connections without TLS are accepted as before
 * (pg_hba's `host` lines take both), so the other tests and services are not affected.
 */
import { chmodSync, chownSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { localCertificates } from '@flowlogs/local-kafka';

/** The CA file that verifies the server, or why TLS cannot be set up here (another host, no access to its files). */
export async function ensurePostgresTls(adminUrl: string): Promise<{ ca: string } | { unavailable: string }> {
  const host = new URL(adminUrl).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost') return { unavailable: `Postgres at ${host} is not this machine's` };
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const show = async (name: string) => (await client.query(`SHOW ${name}`)).rows[0][name] as string;
    const dataDir = await show('data_directory');
    const dir = join(dataDir, 'flowlogs-tls');
    let owner: { uid: number; gid: number };
    try {
      owner = statSync(dataDir);
    } catch (err) {
      return { unavailable: `cannot see the data directory ${dataDir}: ${(err as NodeJS.ErrnoException).code}` };
    }
    const files = await localCertificates(dir);
    if ((await show('ssl')) === 'on' && (await show('ssl_cert_file')) === files.cert) return { ca: files.ca };
    // The server reads its key only when it is its user's and private; the rest is its user's too,
    // so that a backup of the data directory by that user can read every file.
    for (const f of [dir, ...readdirSync(dir).map((name) => join(dir, name))]) chownSync(f, owner.uid, owner.gid);
    chmodSync(files.key, 0o600);
    await client.query(`ALTER SYSTEM SET ssl_cert_file = ${pg.escapeLiteral(files.cert)}`);
    await client.query(`ALTER SYSTEM SET ssl_key_file = ${pg.escapeLiteral(files.key)}`);
    await client.query('ALTER SYSTEM SET ssl = on');
    await client.query('SELECT pg_reload_conf()');
    // The reload is asynchronous: a new session sees it once the postmaster has read the files.
    for (let i = 0; i < 50; i++) {
      const check = new pg.Client({ connectionString: adminUrl });
      await check.connect();
      const { rows } = await check.query('SHOW ssl');
      await check.end();
      if (rows[0].ssl === 'on') return { ca: files.ca };
      await new Promise((r) => setTimeout(r, 100));
    }
    return { unavailable: "ssl stays off after the reload; see the server's log" };
  } finally {
    await client.end();
  }
}
