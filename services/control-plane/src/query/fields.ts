/** The fields a query can name: the field table's names (and their camelCase JSON keys), how each is typed and stored. */
import { FIELDS as TABLE, FieldName, fieldValues, type FieldKind, type FlowRecord } from '@flowlogs/contracts';
import { z } from 'zod';

export interface Field {
  name: FieldName;
  key: keyof FlowRecord;
  kind: FieldKind;
  /** The flow_records column. */
  column: string;
  /** The values a string field can take, as stored; matched case-insensitively. */
  values?: readonly string[];
}

export const FIELDS: readonly Field[] = TABLE.map((f) => ({
  name: f.name,
  key: f.key,
  kind: f.kind,
  column: f.column,
  values: fieldValues(f),
}));

const BY_NAME = new Map(
  FIELDS.flatMap(
    (f) =>
      [
        [f.name.toLowerCase(), f],
        [f.key.toLowerCase(), f],
      ] as const,
  ),
);

/** The field called `name` (the record contract's name or camelCase key, any case), or undefined. */
export const fieldNamed = (name: string): Field | undefined => BY_NAME.get(name.toLowerCase());

/** Protocol names a query may use instead of numbers. */
export const PROTOCOLS: Readonly<Record<string, number>> = { icmp: 1, tcp: 6, udp: 17, gre: 47, icmpv6: 58, sctp: 132 };

/** A field as GET /v1/fields describes it: what the console's records table and API clients need to know. */
export const FieldInfo = z.object({
  name: FieldName,
  key: z.string().describe("the record's JSON key"),
  kind: z.enum(['address', 'integer', 'string']),
  absent: z.enum(['null', 'kept']).describe('on NODATA and SKIPDATA records: null, or kept'),
  flowKey: z.boolean().describe('part of the flow key'),
  values: z.array(z.string()).nullable().describe('the values of a field that is one of a few'),
  console: z
    .object({
      rank: z.number().describe("the column's place in the records table (ascending)"),
      display: z.enum(['text', 'time', 'count', 'protocol']),
      sort: z.enum(['start', 'bytes', 'packets']).optional().describe("the search's sort key, when the column sorts"),
      unlessSameAs: z.string().optional().describe("shown only while a record has a value other than this key's"),
    })
    .nullable()
    .describe("the records table's column, or null when the console does not show the field"),
});
export const FieldList = z.object({ fields: z.array(FieldInfo) });
export type FieldList = z.infer<typeof FieldList>;

export const FIELD_LIST: FieldList = {
  fields: TABLE.map((f) => ({
    name: f.name,
    key: f.key,
    kind: f.kind,
    absent: f.absent,
    flowKey: f.flowKey,
    values: fieldValues(f)?.slice() ?? null,
    console: f.console ?? null,
  })),
};
