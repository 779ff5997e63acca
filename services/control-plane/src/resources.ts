/**
 * How each API resource is stored: its table, id prefix and field → column map. One generic store
 * reads and writes them all from these descriptors, so the routes hold no SQL of their own.
 */
import type { Account, ApiKey, FlowLog, Logset, LogTopic, NetworkInterface, Subnet, Vpc } from './schemas.js';

export interface Resource<T> {
  /** The word used in messages: "subnet subnet-… not found". */
  label: string;
  table: string;
  idPrefix: string;
  columns: { readonly [K in keyof T]-?: string };
  /** Fields in jsonb columns: sent as JSON text, and matched by containment in a WHERE. */
  jsonb?: readonly string[];
}

export const ACCOUNTS: Resource<Account> = {
  label: 'account',
  table: 'accounts',
  idPrefix: 'account',
  columns: { id: 'id', name: 'name', createdAt: 'created_at' },
};
/** The key material is never read back: only its hash is stored, and it is no field of the API's shape. */
export const API_KEYS: Resource<ApiKey> = {
  label: 'API key',
  table: 'api_keys',
  idPrefix: 'key',
  columns: { id: 'id', accountId: 'account_id', name: 'name', role: 'role', createdAt: 'created_at' },
};
export const VPCS: Resource<Vpc> = {
  label: 'VPC',
  table: 'vpcs',
  idPrefix: 'vpc',
  columns: { id: 'id', accountId: 'account_id', name: 'name', cidrBlock: 'cidr_block', createdAt: 'created_at' },
};
export const SUBNETS: Resource<Subnet> = {
  label: 'subnet',
  table: 'subnets',
  idPrefix: 'subnet',
  columns: {
    id: 'id',
    accountId: 'account_id',
    vpcId: 'vpc_id',
    name: 'name',
    cidrBlock: 'cidr_block',
    createdAt: 'created_at',
  },
};
export const NETWORK_INTERFACES: Resource<NetworkInterface> = {
  label: 'network interface',
  table: 'network_interfaces',
  idPrefix: 'eni',
  columns: {
    id: 'id',
    accountId: 'account_id',
    vpcId: 'vpc_id',
    subnetId: 'subnet_id',
    name: 'name',
    primaryIp: 'primary_ip',
    createdAt: 'created_at',
    agentId: 'agent_id',
    registeredAt: 'registered_at',
  },
};
export const LOGSETS: Resource<Logset> = {
  label: 'logset',
  table: 'logsets',
  idPrefix: 'logset',
  columns: {
    id: 'id',
    accountId: 'account_id',
    name: 'name',
    retentionDays: 'retention_days',
    createdAt: 'created_at',
  },
};
export const LOG_TOPICS: Resource<LogTopic> = {
  label: 'log topic',
  table: 'log_topics',
  idPrefix: 'topic',
  columns: {
    id: 'id',
    accountId: 'account_id',
    logsetId: 'logset_id',
    name: 'name',
    format: 'format',
    kafkaTopic: 'kafka_topic',
    createdAt: 'created_at',
  },
  jsonb: ['format'],
};
export const FLOW_LOGS: Resource<FlowLog> = {
  label: 'flow log',
  table: 'flow_logs',
  idPrefix: 'fl',
  columns: {
    id: 'id',
    accountId: 'account_id',
    name: 'name',
    description: 'description',
    resourceType: 'resource_type',
    resourceId: 'resource_id',
    trafficType: 'traffic_type',
    logTopicId: 'log_topic_id',
    aggregationInterval: 'aggregation_interval',
    enabled: 'enabled',
    revision: 'revision',
    tags: 'tags',
    createdAt: 'created_at',
    updatedAt: 'updated_at',
  },
  jsonb: ['tags'],
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a map over resources of every shape
// biome-ignore lint/suspicious/noExplicitAny: a registry of resources of every row type
type AnyResource = Resource<any>;

/** What refers to a resource, by table and column: it cannot be deleted while one of these does. */
export const DEPENDENTS = new Map<AnyResource, [AnyResource, string][]>([
  [
    VPCS,
    [
      [SUBNETS, 'vpc_id'],
      [NETWORK_INTERFACES, 'vpc_id'],
      [FLOW_LOGS, 'resource_id'],
    ],
  ],
  [
    SUBNETS,
    [
      [NETWORK_INTERFACES, 'subnet_id'],
      [FLOW_LOGS, 'resource_id'],
    ],
  ],
  [NETWORK_INTERFACES, [[FLOW_LOGS, 'resource_id']]],
  [LOGSETS, [[LOG_TOPICS, 'logset_id']]],
  [LOG_TOPICS, [[FLOW_LOGS, 'log_topic_id']]],
]);

export interface Sql {
  text: string;
  values: unknown[];
}

/** Where a page of a list starts: after the row at this position (its created_at as Postgres prints it, and id). */
export interface Page {
  limit: number;
  after?: { createdAt: string; id: string };
}

const fieldsOf = <T>(resource: Resource<T>) => Object.keys(resource.columns) as (keyof T & string)[];
const given = <T>(resource: Resource<T>, values: Partial<T>) =>
  fieldsOf(resource).filter((f) => values[f] !== undefined);
const returning = <T>(resource: Resource<T>) => Object.values(resource.columns).join(', ');
const isJsonb = <T>(resource: Resource<T>, field: keyof T) => resource.jsonb?.includes(field as string) ?? false;

/** jsonb fields go as JSON text: node-postgres would send an array as a Postgres array, and a string as is. */
const toParam = <T>(resource: Resource<T>, field: keyof T, v: unknown) =>
  isJsonb(resource, field) ? JSON.stringify(v) : v;

/**
 * INSERT of the given fields (the others take their column defaults), returning the whole row; with `unlessTaken`
 * (the fields of a unique key), nothing when a row has those values already.
 */
export function insertSql<T>(resource: Resource<T>, values: Partial<T>, unlessTaken?: (keyof T)[]): Sql {
  const fields = given(resource, values);
  const onConflict = unlessTaken
    ? ` ON CONFLICT (${unlessTaken.map((f) => resource.columns[f]).join(', ')}) DO NOTHING`
    : '';
  return {
    text: `INSERT INTO ${resource.table} (${fields.map((f) => resource.columns[f]).join(', ')}) VALUES (${fields.map((_, i) => `$${i + 1}`).join(', ')})${onConflict} RETURNING ${returning(resource)}`,
    values: fields.map((f) => toParam(resource, f, values[f])),
  };
}

/** The conditions of `where`, numbered from $`first`: equality, or containment for jsonb fields (a tag in tags). */
function conditions<T>(resource: Resource<T>, where: Partial<T>, first = 1): Sql {
  const fields = given(resource, where);
  return {
    text: fields
      .map((f, i) => `${resource.columns[f]} ${isJsonb(resource, f) ? '@>' : '='} $${first + i}`)
      .join(' AND '),
    values: fields.map((f) => toParam(resource, f, where[f])),
  };
}

/**
 * SELECT of the rows matching `where` (all rows when empty), oldest first; with a page, at most
 * `limit` + 1 of them (the extra one says there is a next page) after its position, each with its own
 * position in a `position` column.
 */
export function selectSql<T>(resource: Resource<T>, where: Partial<T>, page?: Page): Sql {
  const { text: matching, values } = conditions(resource, where);
  const clauses = matching ? [matching] : [];
  if (page?.after) {
    values.push(page.after.createdAt, page.after.id);
    clauses.push(`(created_at, id) > ($${values.length - 1}::timestamptz, $${values.length})`);
  }
  const position = page ? ', created_at::text AS position' : '';
  const limit = page ? ` LIMIT ${page.limit + 1}` : '';
  return {
    text: `SELECT ${returning(resource)}${position} FROM ${resource.table}${clauses.length ? ` WHERE ${clauses.join(' AND ')}` : ''} ORDER BY created_at, id${limit}`,
    values,
  };
}

/** UPDATE of the given fields (and `also`, raw assignments) of the rows matching `where`, returning them. */
export function updateSql<T>(resource: Resource<T>, where: Partial<T>, changes: Partial<T>, also: string[] = []): Sql {
  const fields = given(resource, changes);
  const match = conditions(resource, where, fields.length + 1);
  return {
    text: `UPDATE ${resource.table} SET ${[...fields.map((f, i) => `${resource.columns[f]} = $${i + 1}`), ...also].join(', ')} WHERE ${match.text} RETURNING ${returning(resource)}`,
    values: [...fields.map((f) => toParam(resource, f, changes[f])), ...match.values],
  };
}

/** DELETE of the rows matching `where`. */
export function deleteSql<T>(resource: Resource<T>, where: Partial<T>): Sql {
  const match = conditions(resource, where);
  return { text: `DELETE FROM ${resource.table} WHERE ${match.text}`, values: match.values };
}

/** A row of the resource's table as the API shape. */
export function fromRow<T>(resource: Resource<T>, row: Record<string, unknown>): T {
  return Object.fromEntries(fieldsOf(resource).map((f) => [f, row[resource.columns[f]]])) as T;
}
