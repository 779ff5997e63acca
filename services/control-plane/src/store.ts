/** The control plane's Postgres access: generic resource reads and writes, API keys, record search. */
import type { Pool } from '@flowlogs/db';
import { newAccountId, newResourceId } from './ids.js';
import { FLOW_LOGS, fromRow, insertSql, selectSql, type Resource } from './resources.js';
import type { FlowLog } from './schemas.js';
import { recordCountSql, recordSearchSql, type RecordRow, type RecordScope, type RecordSearch } from './search.js';
import { actionsSql, histogramSql, topSql, type ActionRow, type HistogramRow, type TopQuery, type TopRow } from './analysis.js';
import { flowLogHealthSql, type FlowLogHealthRow } from './health.js';

export type Role = 'admin' | 'readonly';

/** Who a request acts for. */
export interface Principal {
  accountId: string;
  role: Role;
}

// Any fixed number: serialises the bootstrap of the default account between instances starting together.
const BOOTSTRAP_LOCK = 7_115_002;
const UNIQUE_VIOLATION = '23505';

export class Store {
  constructor(private readonly pool: Pool) {}

  /** Inserts a resource, with a new id unless `values` brings one, and returns it as stored. */
  async create<T extends { id: string }>(resource: Resource<T>, values: Partial<T>): Promise<T> {
    const { text, values: params } = insertSql(resource, { id: newResourceId(resource.idPrefix), ...values });
    const { rows } = await this.pool.query(text, params);
    return fromRow(resource, rows[0]);
  }

  /** Like create, but undefined when a row with that id exists already (in any account). */
  async createIfAbsent<T extends { id: string }>(resource: Resource<T>, values: Partial<T> & { id: string }): Promise<T | undefined> {
    try {
      return await this.create(resource, values);
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) return undefined;
      throw err;
    }
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

  /**
   * Changes a flow log in place: the given fields, a new revision (the aggregator keeps the newest),
   * updated_at. Undefined when the account has no such flow log.
   */
  async updateFlowLog(accountId: string, id: string, changes: Partial<Pick<FlowLog, 'name' | 'trafficType' | 'aggregationInterval' | 'tags' | 'enabled'>>): Promise<FlowLog | undefined> {
    const fields = Object.entries(changes).filter(([, v]) => v !== undefined) as [keyof typeof FLOW_LOGS.columns, unknown][];
    const sets = fields.map(([f], i) => `${FLOW_LOGS.columns[f]} = $${i + 3}`);
    const { rows } = await this.pool.query(
      `UPDATE flow_logs SET ${[...sets, 'revision = revision + 1', 'updated_at = now()'].join(', ')} WHERE account_id = $1 AND id = $2 RETURNING ${Object.values(FLOW_LOGS.columns).join(', ')}`,
      [accountId, id, ...fields.map(([, v]) => (typeof v === 'object' ? JSON.stringify(v) : v))],
    );
    return rows[0] ? fromRow(FLOW_LOGS, rows[0]) : undefined;
  }

  async deleteFlowLog(accountId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM flow_logs WHERE account_id = $1 AND id = $2', [accountId, id]);
    return (rowCount ?? 0) > 0;
  }

  async ping(): Promise<boolean> {
    return this.pool.query('SELECT 1').then(() => true, () => false);
  }

  /** How many records the scope holds, counted no further than `cap`. */
  async countRecords(scope: RecordScope, cap: number): Promise<number> {
    return (await this.pool.query<{ n: number }>(recordCountSql(scope, cap))).rows[0].n;
  }

  async topRecords(scope: RecordScope, query: Pick<TopQuery, 'by' | 'metric' | 'limit'>): Promise<TopRow[]> {
    return (await this.pool.query<TopRow>(topSql(scope, query))).rows;
  }

  async histogram(scope: RecordScope, step: number): Promise<HistogramRow[]> {
    return (await this.pool.query<HistogramRow>(histogramSql(scope, step))).rows;
  }

  async actionTotals(scope: RecordScope): Promise<ActionRow[]> {
    return (await this.pool.query<ActionRow>(actionsSql(scope))).rows;
  }

  async flowLogHealth(accountId: string, flowLogId: string, now: number): Promise<FlowLogHealthRow> {
    return (await this.pool.query<FlowLogHealthRow>(flowLogHealthSql(accountId, flowLogId, now))).rows[0];
  }
}
