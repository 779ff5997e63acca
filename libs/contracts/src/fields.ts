/**
 * The flow record's fields, once: everything else that names them is made from this table — the
 * zod FlowRecord and its type, FIELD_KEYS, the flow key and the record id, the text and custom
 * formats, the query language's fields, flow_records' columns and the console's columns (served at
 * GET /v1/fields). A new field is a row here (and its value where records are made).
 */
import { z } from 'zod';

export const Action = z.enum(['ACCEPT', 'REJECT']);
export const LogStatus = z.enum(['OK', 'NODATA', 'SKIPDATA']);
export type Action = z.infer<typeof Action>;
export type LogStatus = z.infer<typeof LogStatus>;

/** How a query reads a field: an address (IP or CIDR), a number, or a string (one of `values`, when it has them). */
export type FieldKind = 'address' | 'integer' | 'string';

/** How the console shows a field's value: as it is, as a date-time, a count, or a protocol name. */
export type FieldDisplay = 'text' | 'time' | 'count' | 'protocol';

export interface ConsoleColumn {
  /** Where the column stands in the records table (ascending). */
  rank: number;
  display: FieldDisplay;
  /** The search API's sort key when the column sorts (a click on its header). */
  sort?: 'start' | 'bytes' | 'packets';
  /** Shown only while a record in the table has a value other than this field's (the JSON key). */
  unlessSameAs?: string;
}

export interface FieldDef<
  N extends string = string,
  K extends string = string,
  S extends z.ZodType = z.ZodType,
  A extends 'null' | 'kept' = 'null' | 'kept',
> {
  /** The name users write (the record contract's field names: `srcaddr`, `log-status` …). */
  name: N;
  /** The record's JSON key. */
  key: K;
  kind: FieldKind;
  /** The value's type when the record has one. */
  schema: S;
  /**
   * On NODATA and SKIPDATA records (no flow): 'null', or 'kept' — they still say whose ENI, which
   * window and which flow log. A 'null' field is nullable in the record.
   */
  absent: A;
  /** Part of the flow key (docs/architecture.md: interface-id, srcaddr, dstaddr, srcport, dstport, protocol, action). */
  flowKey: boolean;
  /** Its flow_records column: a stored record is its columns (recordRow, recordFromRow). */
  column: string;
  console: ConsoleColumn | undefined;
  /** Added after records were first made: a record without it (from an older aggregator) reads as null. */
  addedLater: boolean;
}

interface FieldOptions<K extends string, S extends z.ZodType, A extends 'null' | 'kept'> {
  key: K;
  kind: FieldKind;
  schema: S;
  absent: A;
  flowKey?: true;
  column: string;
  console?: ConsoleColumn;
  addedLater?: true;
}

function field<const N extends string, const K extends string, S extends z.ZodType, const A extends 'null' | 'kept'>(
  name: N,
  o: FieldOptions<K, S, A>,
): FieldDef<N, K, S, A> {
  const { key, kind, schema, absent, column, console } = o;
  const flowKey = o.flowKey ?? false;
  return { name, key, kind, schema, absent, flowKey, column, console, addedLater: o.addedLater ?? false };
}

const int = z.number().int();
const show = (rank: number, display: FieldDisplay = 'text', sort?: ConsoleColumn['sort']): ConsoleColumn => ({
  rank,
  display,
  ...(sort && { sort }),
});
const unlessSameAs = (rank: number, key: string): ConsoleColumn => ({ rank, display: 'text', unlessSameAs: key });

/** The fields in the record's JSON order. */
export const FIELDS = [
  field('version', {
    key: 'version',
    kind: 'integer',
    schema: z.literal(2),
    absent: 'kept',
    column: 'version',
    console: show(140),
  }),
  field('account-id', {
    key: 'accountId',
    kind: 'string',
    schema: z.string(),
    absent: 'kept',
    column: 'account_id',
    console: show(130),
  }),
  field('interface-id', {
    key: 'interfaceId',
    kind: 'string',
    schema: z.string(),
    absent: 'kept',
    flowKey: true,
    column: 'interface_id',
    console: show(30),
  }),
  field('srcaddr', {
    key: 'srcaddr',
    kind: 'address',
    schema: z.string(),
    absent: 'null',
    flowKey: true,
    column: 'srcaddr',
    console: show(40),
  }),
  field('dstaddr', {
    key: 'dstaddr',
    kind: 'address',
    schema: z.string(),
    absent: 'null',
    flowKey: true,
    column: 'dstaddr',
    console: show(60),
  }),
  field('srcport', {
    key: 'srcport',
    kind: 'integer',
    schema: int,
    absent: 'null',
    flowKey: true,
    column: 'srcport',
    console: show(50),
  }),
  field('dstport', {
    key: 'dstport',
    kind: 'integer',
    schema: int,
    absent: 'null',
    flowKey: true,
    column: 'dstport',
    console: show(70),
  }),
  field('protocol', {
    key: 'protocol',
    kind: 'integer',
    schema: int,
    absent: 'null',
    flowKey: true,
    column: 'protocol',
    console: show(80, 'protocol'),
  }),
  field('packets', {
    key: 'packets',
    kind: 'integer',
    schema: int,
    absent: 'null',
    column: 'packets',
    console: show(90, 'count', 'packets'),
  }),
  field('bytes', {
    key: 'bytes',
    kind: 'integer',
    schema: int,
    absent: 'null',
    column: 'bytes',
    console: show(100, 'count', 'bytes'),
  }),
  field('start', {
    key: 'start',
    kind: 'integer',
    schema: int,
    absent: 'null',
    column: 'start_time',
    console: show(10, 'time', 'start'),
  }),
  field('end', {
    key: 'end',
    kind: 'integer',
    schema: int,
    absent: 'null',
    column: 'end_time',
    console: show(20, 'time'),
  }),
  field('action', {
    key: 'action',
    kind: 'string',
    schema: Action,
    absent: 'null',
    flowKey: true,
    column: 'action',
    console: show(110),
  }),
  field('log-status', {
    key: 'logStatus',
    kind: 'string',
    schema: LogStatus,
    absent: 'kept',
    column: 'log_status',
    console: show(120),
  }),
  field('vpc-id', { key: 'vpcId', kind: 'string', schema: z.string().nullable(), absent: 'kept', column: 'vpc_id' }),
  field('subnet-id', {
    key: 'subnetId',
    kind: 'string',
    schema: z.string().nullable(),
    absent: 'kept',
    column: 'subnet_id',
  }),
  field('tcp-flags', { key: 'tcpFlags', kind: 'integer', schema: int, absent: 'null', column: 'tcp_flags' }),
  field('type', { key: 'type', kind: 'string', schema: z.enum(['IPv4', 'IPv6']), absent: 'null', column: 'type' }),
  field('flow-direction', {
    key: 'flowDirection',
    kind: 'string',
    schema: z.enum(['ingress', 'egress']),
    absent: 'null',
    column: 'flow_direction',
  }),
  // The innermost addresses of a GRE or IP-in-IP packet (srcaddr/dstaddr otherwise). Not in the flow key:
  // a record holds those of its flow's first packet.
  field('pkt-srcaddr', {
    key: 'pktSrcaddr',
    kind: 'address',
    schema: z.string(),
    absent: 'null',
    column: 'pkt_srcaddr',
    console: unlessSameAs(75, 'srcaddr'),
    addedLater: true,
  }),
  field('pkt-dstaddr', {
    key: 'pktDstaddr',
    kind: 'address',
    schema: z.string(),
    absent: 'null',
    column: 'pkt_dstaddr',
    console: unlessSameAs(76, 'dstaddr'),
    addedLater: true,
  }),
  field('window-start', { key: 'windowStart', kind: 'integer', schema: int, absent: 'kept', column: 'window_start' }),
  field('window-end', { key: 'windowEnd', kind: 'integer', schema: int, absent: 'kept', column: 'window_end' }),
  field('flow-log-id', { key: 'flowLogId', kind: 'string', schema: z.string(), absent: 'kept', column: 'flow_log_id' }),
  field('log-topic-id', {
    key: 'logTopicId',
    kind: 'string',
    schema: z.string(),
    absent: 'kept',
    column: 'log_topic_id',
  }),
] as const;

type Fields = (typeof FIELDS)[number];
type RecordShape = { [F in Fields as F['key']]: F['absent'] extends 'null' ? z.ZodNullable<F['schema']> : F['schema'] };

/**
 * The zod shape of the fields, in the table's order: a field absent on NODATA/SKIPDATA is nullable,
 * and one added later is null in a record made before it.
 */
export const FIELD_SHAPE = Object.fromEntries(
  FIELDS.map((f: FieldDef) => {
    const schema = f.absent === 'null' ? f.schema.nullable() : f.schema;
    return [f.key, f.addedLater ? schema.default(null) : schema];
  }),
) as RecordShape;

/** A field name of the record contract (`srcaddr`, `log-status` …), as custom formats and queries name them. */
export type FieldName = Fields['name'];
export const FieldName = z.enum(FIELDS.map((f) => f.name) as [FieldName, ...FieldName[]]);

/** The user-facing field names mapped to the JSON keys. */
export const FIELD_KEYS = Object.fromEntries(FIELDS.map((f) => [f.name, f.key])) as {
  [F in Fields as F['name']]: F['key'];
};

/** The values a field can take, for fields that are one of a few (action, log-status, type …). */
export function fieldValues(f: FieldDef): readonly string[] | undefined {
  return f.schema instanceof z.ZodEnum ? (f.schema.options as string[]) : undefined;
}

/** The keys of the flow key, in the table's order. */
export const FLOW_KEY: readonly Fields['key'][] = FIELDS.filter((f) => f.flowKey).map((f) => f.key);

/**
 * A record's flow key as text: its flow-key fields joined by `|`, `absent` for a missing value
 * (NODATA and SKIPDATA records have no flow). The per-log-topic Kafka key, and part of the record id.
 */
export function flowKeyOf(r: { readonly [K in Fields['key']]?: unknown }, absent: string): string {
  let key = '';
  for (let i = 0; i < FLOW_KEY.length; i++) key += `${i ? '|' : ''}${r[FLOW_KEY[i]] ?? absent}`;
  return key;
}
