/** The control plane's Postgres access: generic resource reads and writes, API keys, record search. */
import type { Pool } from '@flowlogs/db';
import { newAccountId, newResourceId } from './ids.js';
import { fromRow, insertSql, selectSql, type Resource } from './resources.js';
import { recordSearchSql, type RecordRow, type RecordSearch } from './search.js';

export type Role = 'admin' | 'readonly';

/** Who a request acts for. */
export interface Principal {
  accountId: string;
  role: Role;
}

// Any fixed number: serialises the bootstrap of the default account between instances starting together.
const BOOTSTRAP_LOCK = 7_115_002;

export class Store {
  constructor(private readonly pool: Pool) {}

  /** Inserts a resource, with a new id unless `values` brings one, and returns it as stored. */
  async create<T extends { id: string }>(resource: Resource<T>, values: Partial<T>): Promise<T> {
    const { text, values: params } = insertSql(resource, { id: newResourceId(resource.idPrefix), ...values });
    const { rows } = await this.pool.query(text, params);
    return fromRow(resource, rows[0]);
  }

  async find<T>(resource: Resource<T>, where: Partial<T>): Promise<T[]> {
    const { text, values } = selectSql(resource, where);
    const { rows } = await this.pool.query(text, values);
    return rows.map((row) => fromRow(resource, row));
  }

  async principal(keyHash: string): Promise<Principal | undefined> {
    const { rows } = await this.pool.query<Principal>('SELECT account_id AS "accountId", role FROM api_keys WHERE key_hash = $1', [keyHash]);
    return rows[0];
  }

  /** Makes `keyHash` an admin key of the account named `accountName`, creating the account when there is none. */
  async ensureAdminKey(keyHash: string, accountName: string): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);
      const existing = await client.query<{ id: string }>('SELECT id FROM accounts WHERE name = $1 ORDER BY created_at LIMIT 1', [accountName]);
      let accountId = existing.rows[0]?.id;
      if (!accountId) {
        accountId = newAccountId();
        await client.query('INSERT INTO accounts (id, name) VALUES ($1, $2)', [accountId, accountName]);
      }
      await client.query("INSERT INTO api_keys (id, account_id, key_hash, role) VALUES ($1, $2, $3, 'admin') ON CONFLICT (key_hash) DO NOTHING", [
        newResourceId('key'), accountId, keyHash,
      ]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  }

  async searchRecords(search: RecordSearch): Promise<RecordRow[]> {
    const { text, values } = recordSearchSql(search);
    return (await this.pool.query<RecordRow>(text, values)).rows;
  }

  async ping(): Promise<boolean> {
    return this.pool.query('SELECT 1').then(() => true, () => false);
  }
}
