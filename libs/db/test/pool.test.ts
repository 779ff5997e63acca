/** The pool on the real server: a connection the server ends is an error for its holder, never a crash of the process. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool } from '@flowlogs/db';
import { createTestDatabase, type TestDatabase } from '@flowlogs/testkit';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

it('survives a checked-out client whose connection the server ends between two of its queries', async () => {
  const client = await db.pool.connect();
  const {
    rows: [{ pid }],
  } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
  // The socket closes with no query pending: the client emits 'error', which would end the process unheard.
  await new Promise((r) => setTimeout(r, 300));
  await expect(client.query('SELECT 1')).rejects.toThrow();
  client.release(true);
  expect((await db.pool.query<{ one: number }>('SELECT 1 AS one')).rows[0].one).toBe(1);
});

it('runs without JIT, unless the URL gives options of its own', async () => {
  expect((await db.pool.query<{ jit: string }>('SHOW jit')).rows[0].jit).toBe('off');
  const url = new URL(db.url);
  url.searchParams.set('options', '-c jit=on');
  const own = createPool(url.toString(), 1);
  try {
    expect((await own.query<{ jit: string }>('SHOW jit')).rows[0].jit).toBe('on');
  } finally {
    await own.end();
  }
});
