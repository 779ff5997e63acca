import { z } from 'zod';

export const AGGREGATION_INTERVALS = [5, 10, 30, 60, 300, 600] as const;
export const ResourceType = z.enum(['NETWORKINTERFACE', 'SUBNET', 'VPC']);
export const TrafficType = z.enum(['ALL', 'ACCEPT', 'REJECT']);
export const AggregationInterval = z.union(
  AGGREGATION_INTERVALS.map((s) => z.literal(s)) as [
    z.ZodLiteral<5>,
    z.ZodLiteral<10>,
    z.ZodLiteral<30>,
    z.ZodLiteral<60>,
    z.ZodLiteral<300>,
    z.ZodLiteral<600>,
  ],
);
export const LogFormat = z.enum(['json', 'text']);

/** A flow-log rule as the control plane publishes it on the compacted rules topic (key: id). */
export const FlowLogRule = z.object({
  id: z.string(),
  accountId: z.string(),
  name: z.string(),
  resourceType: ResourceType,
  resourceId: z.string(),
  trafficType: TrafficType,
  logTopicId: z.string(),
  aggregationInterval: AggregationInterval,
  enabled: z.boolean(),
  revision: z.number().int(),
});
export type FlowLogRule = z.infer<typeof FlowLogRule>;
export type ResourceType = z.infer<typeof ResourceType>;
export type TrafficType = z.infer<typeof TrafficType>;
export type LogFormat = z.infer<typeof LogFormat>;
