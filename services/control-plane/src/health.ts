/** Pipeline health: a flow log's freshness and losses from its records, and the consumer groups' lag from Kafka. */
import type { Admin } from 'kafkajs';
import { z } from 'zod';
import { AGGREGATION_INTERVALS, type TopicNames } from '@flowlogs/contracts';
import type { Sql } from './resources.js';

const LONGEST_WINDOW = Math.max(...AGGREGATION_INTERVALS);
const RATE_SPAN = 600;
const LOSS_SPAN = 3600;

/**
 * One pass over the flow log's last hour (records whose window ended after now − 1 h), and the newest
 * window end of all time: the newest window start found through the index, then the windows near it
 * (an interval change can make a later-starting window end earlier).
 */
export function flowLogHealthSql(accountId: string, flowLogId: string, now: number): Sql {
  const mine = 'flow_log_id = $1 AND account_id = $2';
  return {
    text: `SELECT
      (SELECT max(window_end) FROM flow_records WHERE ${mine}
        AND window_start >= (SELECT max(window_start) FROM flow_records WHERE ${mine}) - ${LONGEST_WINDOW}) AS last_record_at,
      count(*) FILTER (WHERE window_end > $3::bigint - ${RATE_SPAN}) AS recent,
      count(*) FILTER (WHERE log_status = 'SKIPDATA') AS skipdata_records,
      coalesce(sum(skipped_packets) FILTER (WHERE log_status = 'SKIPDATA'), 0)::bigint AS skipdata_packets,
      count(*) FILTER (WHERE log_status = 'NODATA') AS nodata_records
    FROM flow_records WHERE ${mine} AND window_end > $3::bigint - ${LOSS_SPAN} AND window_start >= $3::bigint - ${LOSS_SPAN + LONGEST_WINDOW}`,
    values: [flowLogId, accountId, now],
  };
}

export interface FlowLogHealthRow {
  last_record_at: number | null;
  recent: number;
  skipdata_records: number;
  skipdata_packets: number;
  nodata_records: number;
}

/** A flow log's health, from its records. */
export const FlowLogHealth = z.object({
  lastRecordAt: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'the newest window end (unix seconds); null before the first record' }),
  recordsPerMinute: z.number().meta({ description: 'over the last 10 minutes' }),
  skipdata: z
    .object({ records: z.number().int(), packets: z.number().int() })
    .meta({ description: 'SKIPDATA records of the last hour and the packets they lost' }),
  nodata: z.number().int().meta({ description: 'NODATA records of the last hour' }),
});

export function flowLogHealth(row: FlowLogHealthRow): z.infer<typeof FlowLogHealth> {
  return {
    lastRecordAt: row.last_record_at,
    recordsPerMinute: row.recent / (RATE_SPAN / 60),
    skipdata: { records: row.skipdata_records, packets: row.skipdata_packets },
    nodata: row.nodata_records,
  };
}

const ACTIVITY_SPAN = 86_400;

/**
 * An ENI's newest records of the last day, over every flow log that covers it: any record (while its
 * agent reports it capturing, each window has one: NODATA without traffic) and the newest OK one.
 */
export function eniActivitySql(accountId: string, eniId: string, now: number): Sql {
  return {
    text: `SELECT max(window_end) AS last_seen_at, max(window_end) FILTER (WHERE log_status = 'OK') AS last_traffic_at
    FROM flow_records WHERE account_id = $1 AND interface_id = $2 AND window_start >= $3::bigint - ${ACTIVITY_SPAN}
      AND log_topic_id IN (SELECT id FROM log_topics WHERE account_id = $1)`,
    values: [accountId, eniId, now],
  };
}

export interface EniActivityRow {
  last_seen_at: number | null;
  last_traffic_at: number | null;
}

/** What an ENI's records of the last day say of it. */
export const EniActivity = z.object({
  lastSeenAt: z
    .number()
    .int()
    .nullable()
    .meta({
      description:
        'the end (unix seconds) of the newest window with a record of any status: its agent was capturing then (heartbeats without ' +
        'traffic give NODATA records). Null when no flow log covers the ENI or nothing came in the last 24 h',
    }),
  lastTrafficAt: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'the end of the newest window with traffic (an OK record); null: none in the last 24 h' }),
});

export const eniActivity = (row: EniActivityRow): z.infer<typeof EniActivity> => ({
  lastSeenAt: row.last_seen_at,
  lastTrafficAt: row.last_traffic_at,
});

/** The pipeline's consumer groups and what they read (the services name their groups `<prefix>.<service>`). */
export function pipelineConsumers(topics: TopicNames): { group: string; topic: string }[] {
  const prefix = topics.packets.slice(0, -'.packets'.length);
  return [
    { group: `${prefix}.aggregator`, topic: topics.packets },
    { group: `${prefix}.publisher`, topic: topics.records },
  ];
}

/** Messages not yet committed, summed over partitions; a partition without a commit lags by all it holds. */
export function consumerLag(
  watermarks: { partition: number; low: string; high: string }[],
  committed: { partition: number; offset: string }[],
): number {
  const at = new Map(committed.map((c) => [c.partition, Number(c.offset)]));
  return watermarks.reduce((lag, w) => {
    const offset = at.get(w.partition) ?? -1;
    return lag + Math.max(0, Number(w.high) - (offset < 0 ? Number(w.low) : offset));
  }, 0);
}

/** The pipeline's health: each consumer group's lag (messages not yet committed). */
export const PipelineHealth = z.object({
  consumerGroups: z.array(z.object({ group: z.string(), topic: z.string(), lag: z.number().int() })),
});
export type PipelineHealth = z.infer<typeof PipelineHealth>;

export async function consumerGroupLags(
  admin: Admin,
  consumers: { group: string; topic: string }[],
): Promise<PipelineHealth['consumerGroups']> {
  return Promise.all(
    consumers.map(async ({ group, topic }) => {
      const [watermarks, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId: group, topics: [topic] }),
      ]);
      return { group, topic, lag: consumerLag(watermarks, committed?.partitions ?? []) };
    }),
  );
}
