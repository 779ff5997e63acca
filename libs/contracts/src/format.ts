import { FIELD_KEYS, type FieldName, type FlowRecord } from './record.js';
import type { LogFormat } from './rule.js';

/** The default (version 2) field order, as Tencent and AWS print it. */
export const DEFAULT_FIELDS: readonly FieldName[] = [
  'version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol',
  'packets', 'bytes', 'start', 'end', 'action', 'log-status',
];

/** Space-separated fields, `-` for absent values. */
export function formatText(record: FlowRecord, fields: readonly FieldName[] = DEFAULT_FIELDS): string {
  return fields.map((f) => record[FIELD_KEYS[f]] ?? '-').join(' ');
}

export function formatRecord(record: FlowRecord, format: LogFormat): string {
  return format === 'text' ? formatText(record) : JSON.stringify(record);
}
