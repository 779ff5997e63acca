/** The control plane's Postgres access: generic resource reads and writes, API keys, record search. */
import { recordFromRow, type EniBinding, type LogTopicSettings } from '@flowlogs/contracts';
import { ADVISORY_LOCKS, inTransaction, type Pool, type PoolClient } from '@flowlogs/db';
import { hashApiKey } from './api-key.js';
import { conflict, notFound } from './errors.js';
import { newAccountId, newResourceId } from './ids.js';
import {
  ACCOUNTS,
  API_KEYS,
  DEPENDENTS,
  FLOW_LOGS,
  deleteSql,
  fromRow,
  insertSql,
  selectSql,
  updateSql,
  type Page,
  type Resource,
  type Sql,
} from './resources.js';
import { encodeCursor, type Account, type ApiKey, type FlowLog, type FlowLogRevision, type Role } from './schemas.js';
import { recordCountSql, recordSearchSql, type RecordRow, type RecordScope, type RecordSearch } from './search.js';
import {
  actionsSql,
  histogramSql,
  TOP_RECORDS_SETTINGS,
  TOP_ROLLUP_SETTINGS,
  TOP_SETTINGS,
  topKeysRepairSql,
  topRecordsSql,
  topRollupSql,
  type ActionRow,
  type HistogramRow,
  type Source,
  type TopQuery,
  type TopRow,
} from './analysis.js';
import { eniActivitySql, flowLogHealthSql, type EniActivityRow, type FlowLogHealthRow } from './health.js';

export type { Role } from './schemas.js';

/** Who a request acts for. */
export interface Principal {
  accountId: string;
  role: Role;
  /** The key belongs to the installation's operator account (the one FLOWLOGS_API_KEY bootstraps). */
  operator: boolean;
}

type Db = Pool | PoolClient;
type Owned = { id: string; accountId: string };
type FlowLogChanges = Partial<
  Pick<FlowLog, 'name' | 'description' | 'trafficType' | 'aggregationInterval' | 'tags' | 'enabled'>
>;

// Any fixed number: serialises the bootstrap of the default account between instances starting together.
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

/** The 409 a Postgres constraint violation means, if it is one the API explains (a duplicate name, a parent deleted meanwhile). */
function conflictOf<T>(resource: Resource<T>, err: unknown, values: Partial<T>): Error {
  const { code, constraint } = err as { code?: string; constraint?: string };
  if (code === UNIQUE_VIOLATION && constraint === `${resource.table}_account_name`) {
    return conflict(`name: a ${resource.label} named "${(values as { name?: string }).name}" exists already`);
  }
  if (code === FOREIGN_KEY_VIOLATION)
    return conflict(`a resource this ${resource.label} refers to was deleted meanwhile`);
  return err as Error;
}

export class Store {
  constructor(private readonly pool: Pool) {}

  /** Runs `fn` in one transaction on one connection. */
  private tx<R>(fn: (client: PoolClient) => Promise<R>): Promise<R> {
    return inTransaction(this.pool, fn);
  }

  private async rows<T>(db: Db, resource: Resource<T>, { text, values }: Sql, given: Partial<T>): Promise<T[]> {
    try {
      return (await db.query(text, values)).rows.map((row) => fromRow(resource, row));
    } catch (err) {
      throw conflictOf(resource, err, given);
    }
  }

  /** Inserts a resource, with a new id unless `values` brings one, and returns it as stored. A duplicate name is a 409. */
  async create<T extends { id: string }>(resource: Resource<T>, values: Partial<T>, db: Db = this.pool): Promise<T> {
    const row = { id: newResourceId(resource.idPrefix), ...values };
    return (await this.rows(db, resource, insertSql(resource, row), row))[0];
  }

  /**
   * Like create, but undefined when the account has a row with that id already (ENI ids are per account).
   * Only that is passed over: a duplicate name is still a 409.
   */
  async createIfAbsent<T extends Owned>(resource: Resource<T>, values: Partial<T> & Owned): Promise<T | undefined> {
    return (await this.rows(this.pool, resource, insertSql(resource, values, ['accountId', 'id']), values))[0];
  }

  async find<T>(resource: Resource<T>, where: Partial<T>): Promise<T[]> {
    return this.rows(this.pool, resource, selectSql(resource, where), where);
  }

  /** One page of the rows matching `where`, oldest first, with the cursor of the next page (null after the last). */
  async list<T extends { id: string }>(
    resource: Resource<T>,
    where: Partial<T>,
    page: Page,
  ): Promise<{ items: T[]; nextCursor: string | null }> {
    const { text, values } = selectSql(resource, where, page);
    const { rows } = await this.pool.query<Record<string, unknown> & { position: string }>(text, values);
    const items = rows.slice(0, page.limit);
    const last = items[items.length - 1];
    return {
      items: items.map((row) => fromRow(resource, row)),
      nextCursor: rows.length > page.limit ? encodeCursor({ createdAt: last.position, id: String(last.id) }) : null,
    };
  }

  /** Changes the given fields of the account's resource; undefined when it has none with that id. A duplicate name is a 409. */
  async update<T extends Owned>(
    resource: Resource<T>,
    key: Owned,
    changes: Partial<T>,
    db: Db = this.pool,
    also: string[] = [],
  ): Promise<T | undefined> {
    return (await this.rows(db, resource, updateSql(resource, key as Partial<T>, changes, also), changes))[0];
  }

  /**
   * Deletes the account's resource; false when it has none with that id. While another resource refers
   * to it (a subnet to its VPC, a flow log to its log topic …) it stays, and the answer is a 409 naming that one.
   */
  async remove<T extends Owned>(resource: Resource<T>, key: Owned): Promise<boolean> {
    return this.tx(async (client) => {
      // Locked first, so nothing can start referring to it between the check and the delete.
      const found = await client.query(
        `SELECT id FROM ${resource.table} WHERE account_id = $1 AND id = $2 FOR UPDATE`,
        [key.accountId, key.id],
      );
      if (!found.rowCount) return false;
      for (const [dependent, column] of DEPENDENTS.get(resource) ?? []) {
        const { rows } = await client.query(
          `SELECT id FROM ${dependent.table} WHERE ${column} = $1 AND account_id = $2 LIMIT 1`,
          [key.id, key.accountId],
        );
        if (rows[0])
          throw conflict(
            `${resource.label} ${key.id} is in use by ${dependent.label} ${rows[0].id}: delete that first`,
          );
      }
      const { text, values } = deleteSql(resource, key as Partial<T>);
      await client.query(text, values);
      return true;
    });
  }

  /**
   * Creates a flow log and its first revision in one transaction. The resource it covers is locked
   * against deletion meanwhile; 404 (naming `resourceId`) when the account has no such resource.
   */
  async createFlowLog(
    values: Omit<FlowLog, 'id' | 'enabled' | 'revision' | 'createdAt' | 'updatedAt'>,
    covered: Resource<Owned>,
  ): Promise<FlowLog> {
    return this.tx(async (client) => {
      const found = await client.query(
        `SELECT id FROM ${covered.table} WHERE account_id = $1 AND id = $2 FOR KEY SHARE`,
        [values.accountId, values.resourceId],
      );
      if (!found.rowCount) throw notFound(`resourceId: ${covered.label} ${values.resourceId} not found`);
      return this.revised(client, await this.create(FLOW_LOGS, values, client));
    });
  }

  /**
   * Changes a flow log in place: the given fields, a new revision (the aggregator keeps the newest),
   * updated_at, and the revision's row, in one transaction. Undefined when the account has no such flow log.
   */
  async updateFlowLog(key: Owned, changes: FlowLogChanges): Promise<FlowLog | undefined> {
    return this.tx(async (client) => {
      const flowLog = await this.update<FlowLog>(FLOW_LOGS, key, changes, client, [
        'revision = revision + 1',
        'updated_at = now()',
      ]);
      return flowLog && this.revised(client, flowLog);
    });
  }

  private async revised(client: PoolClient, flowLog: FlowLog): Promise<FlowLog> {
    await client.query('INSERT INTO flow_log_revisions (flow_log_id, revision, flow_log) VALUES ($1, $2, $3)', [
      flowLog.id,
      flowLog.revision,
      JSON.stringify(flowLog),
    ]);
    return flowLog;
  }

  /** Every state of a flow log, newest first (its dates as JSON strings, as they were stored). */
  async flowLogRevisions(flowLogId: string): Promise<FlowLogRevision[]> {
    const { rows } = await this.pool.query<FlowLogRevision>(
      'SELECT revision, changed_at AS "changedAt", flow_log AS "flowLog" FROM flow_log_revisions WHERE flow_log_id = $1 ORDER BY revision DESC',
      [flowLogId],
    );
    return rows;
  }

  async principal(keyHash: string): Promise<Principal | undefined> {
    const { rows } = await this.pool.query<Principal>(
      'SELECT k.account_id AS "accountId", k.role, a.operator FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = $1',
      [keyHash],
    );
    return rows[0];
  }

  /** Makes `keyHash` an admin key of the operator account, creating that (named `accountName`) when there is none. */
  async ensureAdminKey(keyHash: string, accountName: string): Promise<void> {
    await this.tx(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.bootstrap]);
      const existing = await client.query<{ id: string }>('SELECT id FROM accounts WHERE operator');
      const accountId = existing.rows[0]?.id ?? (await this.insertAccount(client, accountName, true)).id;
      await client.query(
        "INSERT INTO api_keys (id, account_id, key_hash, role) VALUES ($1, $2, $3, 'admin') ON CONFLICT (key_hash) DO NOTHING",
        [newResourceId(API_KEYS.idPrefix), accountId, keyHash],
      );
    });
  }

  /**
   * Without a configured key: makes the operator account (named `accountName`) with the admin key
   * `makeKey` gives, when the installation has no operator account yet, and returns that key; later
   * starts (and instances that lost the race) return undefined. Only the key's hash is stored.
   */
  async bootstrapOperatorKey(accountName: string, makeKey: () => string): Promise<string | undefined> {
    return this.tx(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.bootstrap]);
      if ((await client.query('SELECT 1 FROM accounts WHERE operator')).rowCount) return undefined;
      const key = makeKey();
      const account = await this.insertAccount(client, accountName, true);
      await this.createApiKey({ accountId: account.id, role: 'admin', keyHash: hashApiKey(key) }, client);
      return key;
    });
  }

  private async insertAccount(db: Db, name: string, operator = false): Promise<Account> {
    const { rows } = await db.query(
      'INSERT INTO accounts (id, name, operator) VALUES ($1, $2, $3) RETURNING id, name, created_at',
      [newAccountId(), name, operator],
    );
    return fromRow(ACCOUNTS, rows[0]);
  }

  /** A new account with its first admin key (given hashed). */
  async createAccount(name: string, adminKeyHash: string): Promise<Account> {
    return this.tx(async (client) => {
      const account = await this.insertAccount(client, name);
      await this.createApiKey({ accountId: account.id, role: 'admin', keyHash: adminKeyHash }, client);
      return account;
    });
  }

  async createApiKey(
    key: { accountId: string; role: Role; name?: string; keyHash: string },
    db: Db = this.pool,
  ): Promise<ApiKey> {
    const { rows } = await db.query(
      `INSERT INTO api_keys (id, account_id, role, name, key_hash) VALUES ($1, $2, $3, $4, $5) RETURNING ${Object.values(API_KEYS.columns).join(', ')}`,
      [newResourceId(API_KEYS.idPrefix), key.accountId, key.role, key.name ?? null, key.keyHash],
    );
    return fromRow(API_KEYS, rows[0]);
  }

  /** Deletes the account's key; false when it has none with that id; a 409 for its last admin key, which would lock the account out. */
  async deleteApiKey(key: Owned): Promise<boolean> {
    return this.tx(async (client) => {
      const { rows } = await client.query<{ id: string; role: Role }>(
        'SELECT id, role FROM api_keys WHERE account_id = $1 ORDER BY id FOR UPDATE',
        [key.accountId],
      );
      const target = rows.find((r) => r.id === key.id);
      if (!target) return false;
      if (target.role === 'admin' && rows.filter((r) => r.role === 'admin').length === 1) {
        throw conflict(`API key ${key.id} is the account's last admin key: create another admin key first`);
      }
      await client.query('DELETE FROM api_keys WHERE id = $1', [key.id]);
      return true;
    });
  }

  /**
   * Binds the account's ENI to the agent, giving the agent a secret the first time it binds any ENI
   * (its key for signing packet batches). Rebinding to another agent keeps the one before, until now.
   * Undefined when the account has no such ENI.
   */
  async bindAgent(
    accountId: string,
    eniId: string,
    agentId: string,
    newSecret: string,
  ): Promise<EniBinding | undefined> {
    return this.tx(async (client) => {
      const eni = await client.query('SELECT 1 FROM network_interfaces WHERE account_id = $1 AND id = $2 FOR UPDATE', [
        accountId,
        eniId,
      ]);
      if (!eni.rowCount) return undefined;
      await client.query(
        'INSERT INTO agents (account_id, agent_id, secret) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [accountId, agentId, newSecret],
      );
      await client.query(
        `INSERT INTO eni_bindings (account_id, eni_id, agent_id) VALUES ($1, $2, $3)
         ON CONFLICT (account_id, eni_id) DO UPDATE SET agent_id = $3, bound_at = now(),
           previous_agent = CASE WHEN eni_bindings.agent_id = $3 THEN eni_bindings.previous_agent ELSE eni_bindings.agent_id END,
           previous_until = CASE WHEN eni_bindings.agent_id = $3 THEN eni_bindings.previous_until ELSE now() END`,
        [accountId, eniId, agentId],
      );
      return (await this.bindings(client, { accountId, eniId }))[0];
    });
  }

  /** The ENIs' bindings as the inventory topic carries them: one ENI's, or all (republished at start). */
  async bindings(db: Db = this.pool, only?: { accountId: string; eniId: string }): Promise<EniBinding[]> {
    const { rows } = await db.query(
      `SELECT b.eni_id, b.account_id, n.vpc_id, n.subnet_id, b.agent_id, a.secret, b.previous_agent, p.secret AS previous_secret,
              extract(epoch FROM b.previous_until)::float8 AS previous_until
       FROM eni_bindings b
       JOIN network_interfaces n ON n.account_id = b.account_id AND n.id = b.eni_id
       JOIN agents a ON a.account_id = b.account_id AND a.agent_id = b.agent_id
       LEFT JOIN agents p ON p.account_id = b.account_id AND p.agent_id = b.previous_agent
       ${only ? 'WHERE b.account_id = $1 AND b.eni_id = $2' : ''}`,
      only ? [only.accountId, only.eniId] : [],
    );
    return rows.map((r) => ({
      eniId: r.eni_id,
      accountId: r.account_id,
      vpcId: r.vpc_id,
      subnetId: r.subnet_id,
      agentId: r.agent_id,
      secret: r.secret,
      ...(r.previous_agent && r.previous_secret
        ? { previous: { agentId: r.previous_agent, secret: r.previous_secret, until: r.previous_until } }
        : {}),
    }));
  }

  async searchRecords(search: RecordSearch): Promise<RecordRow[]> {
    const { text, values } = recordSearchSql(search);
    const { rows } = await this.pool.query<{ sort_key: number; record_id: string }>(text, values);
    return rows.map((row) => ({ record: recordFromRow(row), sort_key: row.sort_key, record_id: row.record_id }));
  }

  async ping(): Promise<boolean> {
    return this.pool.query('SELECT 1').then(
      () => true,
      () => false,
    );
  }

  /** How many records the scope holds, counted no further than `cap`. */
  async countRecords(scope: RecordScope, cap: number): Promise<number> {
    return (await this.pool.query<{ n: number }>(recordCountSql(scope, cap))).rows[0].n;
  }

  /**
   * The top keys: from the rollups when they can answer the scope (topRollupSql: protocols and
   * actions from the series, with a query on those; other keys with no query or a facet's, and a whole slot),
   * unless their bounds leave the answer unsettled; from the records otherwise.
   */
  async topKeys(
    scope: RecordScope,
    query: Pick<TopQuery, 'by' | 'metric' | 'limit'>,
  ): Promise<{ rows: TopRow[]; source: Source }> {
    return this.tx(async (client) => {
      const rollup = topRollupSql(scope, query);
      await client.query(rollup ? TOP_ROLLUP_SETTINGS : TOP_SETTINGS);
      if (rollup) {
        const { rows } = await client.query<TopRow & { certain: boolean; exact?: boolean; settled?: boolean }>(rollup);
        // No key at all is certain too: a slot drops keys only when it keeps SLOT_KEEP others.
        if (rows.every((r) => r.certain)) return { rows, source: 'rollups' };
        // The right keys, some of them with totals only bounded: those from their records.
        if (rows.every((r) => r.settled)) {
          const repair = rows.filter((r) => !r.exact).map((r) => r.key);
          return {
            rows: (await client.query<TopRow>(topKeysRepairSql(scope, query, rows, repair))).rows,
            source: 'rollups',
          };
        }
        await client.query(TOP_RECORDS_SETTINGS);
      }
      return { rows: (await client.query<TopRow>(topRecordsSql(scope, query))).rows, source: 'records' };
    });
  }

  async histogram(scope: RecordScope, step: number): Promise<{ rows: HistogramRow[]; source: Source }> {
    const sql = histogramSql(scope, step);
    return { rows: (await this.pool.query<HistogramRow>(sql.text, sql.values)).rows, source: sql.source };
  }

  async actionTotals(scope: RecordScope): Promise<ActionRow[]> {
    return (await this.pool.query<ActionRow>(actionsSql(scope))).rows;
  }

  async flowLogHealth(accountId: string, flowLogId: string, now: number): Promise<FlowLogHealthRow> {
    return (await this.pool.query<FlowLogHealthRow>(flowLogHealthSql(accountId, flowLogId, now))).rows[0];
  }

  async eniActivity(accountId: string, eniId: string, now: number): Promise<EniActivityRow> {
    return (await this.pool.query<EniActivityRow>(eniActivitySql(accountId, eniId, now))).rows[0];
  }

  /** What the publisher needs of the log topics (all; or those of one logset; or one), on the log-topics topic. */
  async logTopicSettings(where: { id?: string; logsetId?: string } = {}): Promise<LogTopicSettings[]> {
    return (
      await this.pool.query<LogTopicSettings>(
        'SELECT t.id, t.kafka_topic AS "kafkaTopic", t.format, l.retention_days AS "retentionDays" FROM log_topics t JOIN logsets l ON l.id = t.logset_id ' +
          'WHERE ($1::text IS NULL OR t.id = $1) AND ($2::text IS NULL OR t.logset_id = $2) ORDER BY t.id',
        [where.id ?? null, where.logsetId ?? null],
      )
    ).rows;
  }
}
