import { hash } from 'node:crypto';
import { z } from 'zod';
import { FIELD_SHAPE, FIELDS, flowKeyOf } from './fields.js';

/** One flow record in its JSON form: the camelCase keys of the field table, then two of its own. */
export const FlowRecord = z.object({
  ...FIELD_SHAPE,
  /** Packets the window lost (capture drops, late arrivals, capacity); set on SKIPDATA records. */
  skippedPackets: z.number().int().nullable(),
  recordId: z.string(),
});
export type FlowRecord = z.infer<typeof FlowRecord>;

/** The batch the aggregator writes to the records topic. */
export const FlowRecordBatch = z.object({ records: z.array(FlowRecord) });
export type FlowRecordBatch = z.infer<typeof FlowRecordBatch>;

/**
 * The idempotency key: the same flow log, window, status and flow key (ENI included) always give the
 * same id, so a record replayed after a crash is stored and delivered once. `distinct` tells apart a
 * second record of the same key (a window's SKIPDATA after late packets reopened it).
 */
export function recordIdOf(r: Omit<FlowRecord, 'recordId'>, distinct?: string): string {
  let key = `${r.flowLogId}|${r.windowStart}|${r.logStatus}|${flowKeyOf(r, '')}`;
  if (distinct !== undefined) key += `|${distinct}`;
  return hash('sha256', key, 'hex').slice(0, 32);
}

/** The columns of a flow_records row, in recordRow's order: the id, a column per field, the skipped packets. */
export const RECORD_COLUMNS: readonly string[] = ['record_id', ...FIELDS.map((f) => f.column), 'skipped_packets'];

/** The record's key of each of RECORD_COLUMNS, in its order. */
export const RECORD_COLUMN_KEYS: readonly (keyof FlowRecord)[] = [
  'recordId',
  ...FIELDS.map((f) => f.key),
  'skippedPackets',
];

/** A record's values for RECORD_COLUMNS. */
export function recordRow(r: FlowRecord): unknown[] {
  return RECORD_COLUMN_KEYS.map((k) => r[k]);
}

/**
 * The record a flow_records row holds (its RECORD_COLUMNS by name, as pg reads them: addresses as
 * Postgres prints them, which is how records write them), with the keys in the order of FlowRecord,
 * so it serialises as the delivered JSON did.
 */
export function recordFromRow(row: Readonly<Record<string, unknown>>): FlowRecord {
  const r: Record<string, unknown> = {};
  for (const f of FIELDS) r[f.key] = row[f.column] ?? null;
  r.skippedPackets = row.skipped_packets ?? null;
  r.recordId = row.record_id;
  return r as FlowRecord;
}
