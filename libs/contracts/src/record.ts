import { hash } from 'node:crypto';
import { z } from 'zod';

export const Action = z.enum(['ACCEPT', 'REJECT']);
export const LogStatus = z.enum(['OK', 'NODATA', 'SKIPDATA']);
export type Action = z.infer<typeof Action>;
export type LogStatus = z.infer<typeof LogStatus>;

/** One flow record in its JSON form: the camelCase names of DESIGN.md's fields. */
export const FlowRecord = z.object({
  version: z.literal(2),
  accountId: z.string(),
  interfaceId: z.string(),
  srcaddr: z.string().nullable(),
  dstaddr: z.string().nullable(),
  srcport: z.number().int().nullable(),
  dstport: z.number().int().nullable(),
  protocol: z.number().int().nullable(),
  packets: z.number().int().nullable(),
  bytes: z.number().int().nullable(),
  start: z.number().int().nullable(),
  end: z.number().int().nullable(),
  action: Action.nullable(),
  logStatus: LogStatus,
  vpcId: z.string().nullable(),
  subnetId: z.string().nullable(),
  tcpFlags: z.number().int().nullable(),
  type: z.enum(['IPv4', 'IPv6']).nullable(),
  flowDirection: z.enum(['ingress', 'egress']).nullable(),
  windowStart: z.number().int(),
  windowEnd: z.number().int(),
  flowLogId: z.string(),
  logTopicId: z.string(),
  /** Packets the window lost (capture drops, late arrivals, capacity); set on SKIPDATA records. */
  skippedPackets: z.number().int().nullable(),
  recordId: z.string(),
});
export type FlowRecord = z.infer<typeof FlowRecord>;

/** The batch the aggregator writes to the records topic. */
export const FlowRecordBatch = z.object({ records: z.array(FlowRecord) });
export type FlowRecordBatch = z.infer<typeof FlowRecordBatch>;

/**
 * The idempotency key: the same flow log, ENI, window and flow key always give the same id,
 * so a record replayed after a crash is stored and delivered once. `distinct` tells apart a second
 * record of the same key (a window's SKIPDATA after late packets reopened it).
 */
export function recordIdOf(r: Omit<FlowRecord, 'recordId'>, distinct?: string): string {
  let key = `${r.flowLogId}|${r.interfaceId}|${r.windowStart}|${r.logStatus}|${r.srcaddr ?? ''}|${r.dstaddr ?? ''}|${r.srcport ?? ''}|${r.dstport ?? ''}|${r.protocol ?? ''}|${r.action ?? ''}`;
  if (distinct !== undefined) key += `|${distinct}`;
  return hash('sha256', key, 'hex').slice(0, 32);
}

/** The user-facing field names (DESIGN.md) mapped to the JSON keys. */
export const FIELD_KEYS = {
  'version': 'version', 'account-id': 'accountId', 'interface-id': 'interfaceId', 'srcaddr': 'srcaddr', 'dstaddr': 'dstaddr',
  'srcport': 'srcport', 'dstport': 'dstport', 'protocol': 'protocol', 'packets': 'packets', 'bytes': 'bytes',
  'start': 'start', 'end': 'end', 'action': 'action', 'log-status': 'logStatus', 'vpc-id': 'vpcId', 'subnet-id': 'subnetId',
  'tcp-flags': 'tcpFlags', 'type': 'type', 'flow-direction': 'flowDirection', 'window-start': 'windowStart',
  'window-end': 'windowEnd', 'flow-log-id': 'flowLogId', 'log-topic-id': 'logTopicId',
} as const satisfies Record<string, keyof FlowRecord>;
/** A field name of DESIGN.md (`srcaddr`, `log-status` …), as custom formats list them. */
export const FieldName = z.enum(Object.keys(FIELD_KEYS) as [keyof typeof FIELD_KEYS, ...(keyof typeof FIELD_KEYS)[]]);
export type FieldName = z.infer<typeof FieldName>;
