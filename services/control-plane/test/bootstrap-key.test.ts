import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '@flowlogs/db';
import { createTestDatabase, type TestDatabase } from '@flowlogs/testkit';
import { hashApiKey, newApiKey } from '../src/api-key.js';
import { ControlPlaneConfig } from '../src/config.js';
import { Store } from '../src/store.js';

describe('the admin key made on the first start without FLOWLOGS_API_KEY', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await migrate(db.pool);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('is made once, by one of several instances starting together, and stored only as its hash', async () => {
    const stores = [new Store(db.pool), new Store(db.pool), new Store(db.pool)];
    const made = (await Promise.all(stores.map((s) => s.bootstrapOperatorKey('default', newApiKey)))).filter(
      (k) => k !== undefined,
    );
    expect(made).toHaveLength(1);
    const [key] = made as string[];
    const { rows } = await db.pool.query(
      'SELECT k.key_hash, k.role, a.name, a.operator FROM api_keys k JOIN accounts a ON a.id = k.account_id',
    );
    expect(rows).toEqual([{ key_hash: hashApiKey(key), role: 'admin', name: 'default', operator: true }]);
    expect(await stores[0].principal(hashApiKey(key))).toMatchObject({ role: 'admin', operator: true });
    // A later start finds the operator account and makes nothing.
    expect(await stores[0].bootstrapOperatorKey('default', newApiKey)).toBeUndefined();
    expect((await db.pool.query('SELECT 1 FROM api_keys')).rowCount).toBe(1);
  });

  it('is what an empty FLOWLOGS_API_KEY asks for too (compose passes the variable through unset as empty)', () => {
    const base = { KAFKA_BROKERS: '127.0.0.1:9092', DATABASE_URL: 'postgres://x@127.0.0.1/x' };
    expect(ControlPlaneConfig.parse({ ...base, FLOWLOGS_API_KEY: '' }).FLOWLOGS_API_KEY).toBeUndefined();
    expect(() => ControlPlaneConfig.parse({ ...base, FLOWLOGS_API_KEY: 'short' })).toThrow(/at least 16 characters/);
  });
});
