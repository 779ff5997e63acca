/**
 * Scenario 4: Postgres unreachable for ~10 s while the publisher stores: new connections to the
 * scenario's database refused (ALLOW_CONNECTIONS false) and existing ones terminated repeatedly.
 * The machine's server itself is not restarted (other tests use it).
 */
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { kafkaBrokers } from '@flowlogs/testkit';
import { openScenario, scenarioSeed, sleep, verify, when, type Scenario } from './harness.js';

let s: Scenario | undefined;
let admin: pg.Client | undefined;
let dbName = '';
afterEach(async () => {
  if (admin) {
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(dbName)} ALLOW_CONNECTIONS true`).catch(() => {});
    await admin.end().catch(() => {});
    admin = undefined;
  }
  await s?.close();
  s = undefined;
});

it('keeps every record once across a Postgres outage', async () => {
  const started = Date.now();
  const { random } = scenarioSeed('postgres-outage');
  s = await openScenario('postgres-outage', kafkaBrokers());
  const scenario = s;
  dbName = decodeURIComponent(new URL(scenario.db.url).pathname.slice(1));
  const adminUrl = new URL(scenario.db.url);
  adminUrl.pathname = '/postgres';
  admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  const client = admin;
  const cutAt = Math.floor(scenario.expected.length * (0.02 + 0.5 * random()));
  const outageMs = Math.floor(8000 + 4000 * random());
  scenario.note(`will cut the database off for ${outageMs} ms once ${cutAt} records are in Postgres`);
  const replay = scenario.replay();
  const fault = (async () => {
    let inPg = 0;
    if (!(await when(async () => (inPg = await scenario.pgCount()) >= cutAt)))
      throw new Error(`never reached ${cutAt} records in Postgres (at ${inPg})`);
    const db = pg.escapeIdentifier(dbName);
    await client.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS false`);
    const end = Date.now() + outageMs;
    let terminated = 0;
    try {
      while (Date.now() < end) {
        const { rowCount } = await client.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [dbName],
        );
        terminated += rowCount ?? 0;
        await sleep(300);
      }
    } finally {
      await client.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS true`);
    }
    scenario.note(
      `database cut off from ${inPg} records in Postgres for ${outageMs} ms; ${terminated} backends terminated`,
    );
  })();
  await Promise.all([replay, fault]);
  const { ok, report } = await verify(scenario, started);
  expect(ok, report).toBe(true);
});
