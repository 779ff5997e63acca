import { z } from 'zod';
import { FIELD_KEYS, FieldName } from './fields.js';
import type { FlowRecord } from './record.js';
import { LogFormat } from './rule.js';

/** The default (version 2) field order, as Tencent and AWS print it. */
export const DEFAULT_FIELDS: readonly FieldName[] = [
  'version',
  'account-id',
  'interface-id',
  'srcaddr',
  'dstaddr',
  'srcport',
  'dstport',
  'protocol',
  'packets',
  'bytes',
  'start',
  'end',
  'action',
  'log-status',
];

/** A text line of chosen fields in the chosen order, like AWS's custom formats: `{custom: ["srcaddr", "dstaddr"]}`. */
export const CustomFormat = z.strictObject({
  custom: z
    .array(FieldName)
    .min(1)
    .max(Object.keys(FIELD_KEYS).length)
    .refine((fields) => new Set(fields).size === fields.length, 'a field is listed twice'),
});

/** How a log topic writes its records: JSON objects, the default text line, or a custom text line. */
export const RecordFormat = z.union([LogFormat, CustomFormat], {
  // An object can only mean a custom format: say what is wrong with it rather than "Invalid input".
  error: (issue) => {
    const custom = issue.code === 'invalid_union' && typeof issue.input === 'object' ? issue.errors[1] : undefined;
    return custom?.length
      ? custom.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
      : 'expected "json", "text" or {custom: [field, …]}';
  },
});
export type CustomFormat = z.infer<typeof CustomFormat>;
export type RecordFormat = z.infer<typeof RecordFormat>;

/** Space-separated fields, `-` for absent values. */
export function formatText(record: FlowRecord, fields: readonly FieldName[] = DEFAULT_FIELDS): string {
  return fields.map((f) => record[FIELD_KEYS[f]] ?? '-').join(' ');
}

export function formatRecord(record: FlowRecord, format: RecordFormat): string {
  if (format === 'json') return JSON.stringify(record);
  return formatText(record, format === 'text' ? DEFAULT_FIELDS : format.custom);
}
