/**
 * How each API resource is stored: its table, id prefix and field → column map. One generic store
 * reads and writes them all from these descriptors, so the routes hold no SQL of their own.
 */
import type { FlowLog, Logset, LogTopic, NetworkInterface, Subnet, Vpc } from './schemas.js';

export interface Resource<T> {
  /** The word used in messages: "subnet subnet-… not found". */
  label: string;
  table: string;
  idPrefix: string;
  columns: { readonly [K in keyof T]-?: string };
}

export const VPCS: Resource<Vpc> = {
  label: 'VPC', table: 'vpcs', idPrefix: 'vpc',
  columns: { id: 'id', accountId: 'account_id', name: 'name', cidrBlock: 'cidr_block', createdAt: 'created_at' },
};
export const SUBNETS: Resource<Subnet> = {
  label: 'subnet', table: 'subnets', idPrefix: 'subnet',
  columns: { id: 'id', accountId: 'account_id', vpcId: 'vpc_id', name: 'name', cidrBlock: 'cidr_block', createdAt: 'created_at' },
};
export const NETWORK_INTERFACES: Resource<NetworkInterface> = {
  label: 'network interface', table: 'network_interfaces', idPrefix: 'eni',
  columns: {
    id: 'id', accountId: 'account_id', vpcId: 'vpc_id', subnetId: 'subnet_id', name: 'name', primaryIp: 'primary_ip', createdAt: 'created_at',
  },
};
export const LOGSETS: Resource<Logset> = {
  label: 'logset', table: 'logsets', idPrefix: 'logset',
  columns: { id: 'id', accountId: 'account_id', name: 'name', retentionDays: 'retention_days', createdAt: 'created_at' },
};
export const LOG_TOPICS: Resource<LogTopic> = {
  label: 'log topic', table: 'log_topics', idPrefix: 'topic',
  columns: { id: 'id', accountId: 'account_id', logsetId: 'logset_id', name: 'name', format: 'format', kafkaTopic: 'kafka_topic', createdAt: 'created_at' },
};
export const FLOW_LOGS: Resource<FlowLog> = {
  label: 'flow log', table: 'flow_logs', idPrefix: 'fl',
  columns: {
    id: 'id', accountId: 'account_id', name: 'name', resourceType: 'resource_type', resourceId: 'resource_id', trafficType: 'traffic_type',
    logTopicId: 'log_topic_id', aggregationInterval: 'aggregation_interval', enabled: 'enabled', revision: 'revision', tags: 'tags',
    createdAt: 'created_at', updatedAt: 'updated_at',
  },
};

export interface Sql {
  text: string;
  values: unknown[];
}

const fieldsOf = <T>(resource: Resource<T>) => Object.keys(resource.columns) as (keyof T & string)[];

/** Arrays and objects go to jsonb columns (tags): node-postgres would send an array as a Postgres array. */
const toParam = (v: unknown) => (v !== null && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : v);

/** INSERT of the given fields (the others take their column defaults), returning the whole row. */
export function insertSql<T>(resource: Resource<T>, values: Partial<T>): Sql {
  const fields = fieldsOf(resource).filter((f) => values[f] !== undefined);
  const columns = fields.map((f) => resource.columns[f]);
  return {
    text: `INSERT INTO ${resource.table} (${columns.join(', ')}) VALUES (${fields.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING ${Object.values(resource.columns).join(', ')}`,
    values: fields.map((f) => toParam(values[f])),
  };
}

/** SELECT of the rows whose fields equal `where` (all rows when empty), oldest first. */
export function selectSql<T>(resource: Resource<T>, where: Partial<T>): Sql {
  const fields = fieldsOf(resource).filter((f) => where[f] !== undefined);
  const conditions = fields.map((f, i) => `${resource.columns[f]} = $${i + 1}`);
  return {
    text: `SELECT ${Object.values(resource.columns).join(', ')} FROM ${resource.table}${conditions.length ? ` WHERE ${conditions.join(' AND ')}` : ''} ORDER BY created_at, id`,
    values: fields.map((f) => where[f]),
  };
}

/** A row of the resource's table as the API shape. */
export function fromRow<T>(resource: Resource<T>, row: Record<string, unknown>): T {
  return Object.fromEntries(fieldsOf(resource).map((f) => [f, row[resource.columns[f]]])) as T;
}
