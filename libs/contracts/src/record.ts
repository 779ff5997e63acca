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

/** The fields stored in columns of their own (the field table says which), beside the id and the whole record. */
const STORED = FIELDS.filter((f) => f.column !== undefined);

/** The columns of a flow_records row, in recordRow's order. */
export const RECORD_COLUMNS: readonly string[] = ['record_id', ...STORED.map((f) => f.column as string), 'record'];

/** A record's values for RECORD_COLUMNS. */
export function recordRow(r: FlowRecord): unknown[] {
  return [r.recordId, ...STORED.map((f) => r[f.key]), JSON.stringify(r)];
}
