/** The fields a query can name: DESIGN.md's names (and their camelCase JSON keys), how each is typed and stored. */
import { FIELD_KEYS, type FieldName, type FlowRecord } from '@flowlogs/contracts';

export type FieldKind = 'address' | 'integer' | 'string';

export interface Field {
  name: FieldName;
  key: keyof FlowRecord;
  kind: FieldKind;
  /** The flow_records column; without one the field is read from the record json column. */
  column?: string;
  /** The values a string field can take, as stored; matched case-insensitively. */
  values?: readonly string[];
}

const SPEC: Record<FieldName, Omit<Field, 'name' | 'key'>> = {
  'version': { kind: 'integer' },
  'account-id': { kind: 'string', column: 'account_id' },
  'interface-id': { kind: 'string', column: 'interface_id' },
  'srcaddr': { kind: 'address', column: 'srcaddr' },
  'dstaddr': { kind: 'address', column: 'dstaddr' },
  'srcport': { kind: 'integer', column: 'srcport' },
  'dstport': { kind: 'integer', column: 'dstport' },
  'protocol': { kind: 'integer', column: 'protocol' },
  'packets': { kind: 'integer', column: 'packets' },
  'bytes': { kind: 'integer', column: 'bytes' },
  'start': { kind: 'integer', column: 'start_time' },
  'end': { kind: 'integer', column: 'end_time' },
  'action': { kind: 'string', column: 'action', values: ['ACCEPT', 'REJECT'] },
  'log-status': { kind: 'string', column: 'log_status', values: ['OK', 'NODATA', 'SKIPDATA'] },
  'vpc-id': { kind: 'string' },
  'subnet-id': { kind: 'string' },
  'tcp-flags': { kind: 'integer' },
  'type': { kind: 'string', values: ['IPv4', 'IPv6'] },
  'flow-direction': { kind: 'string', values: ['ingress', 'egress'] },
  'window-start': { kind: 'integer', column: 'window_start' },
  'window-end': { kind: 'integer', column: 'window_end' },
  'flow-log-id': { kind: 'string', column: 'flow_log_id' },
  'log-topic-id': { kind: 'string', column: 'log_topic_id' },
};

export const FIELDS: readonly Field[] = (Object.keys(SPEC) as FieldName[]).map((name) => ({ name, key: FIELD_KEYS[name], ...SPEC[name] }));

const BY_NAME = new Map(FIELDS.flatMap((f) => [[f.name.toLowerCase(), f], [f.key.toLowerCase(), f]] as const));

/** The field called `name` (DESIGN name or camelCase key, any case), or undefined. */
export const fieldNamed = (name: string): Field | undefined => BY_NAME.get(name.toLowerCase());

/** Protocol names a query may use instead of numbers. */
export const PROTOCOLS: Readonly<Record<string, number>> = { icmp: 1, tcp: 6, udp: 17, gre: 47, icmpv6: 58, sctp: 132 };
