/**
 * Retention: which day partitions of flow_records to drop whole, and which log topics' older rows
 * to delete inside the partitions that stay (a logset keeping fewer days than the longest); the
 * hourly rollup's rows go with their records. Pure.
 */
import { HOUR } from '@flowlogs/db';

const DAY = 86_400;

export interface DayPartition {
  name: string;
  /** Window starts [from, to) in unix seconds. */
  from: number;
  to: number;
}

export interface TopicRetention {
  logTopicId: string;
  retentionDays: number;
}

export interface RetentionPlan {
  dropPartitions: string[];
  /** With partitions to drop: the rollup rows of every log topic with an hour before this (the days dropped) are deleted. */
  rollupBefore?: number;
  /**
   * Rows of these log topics with window_start (in the rollup: hour) before `before` are deleted. An
   * hour's start, so that an hour's rollup row goes when, and only when, all its records go.
   */
  deletes: Array<{ logTopicIds: string[]; before: number }>;
}

/** Partition names are flow_records_YYYYMMDD (libs/db dayPartitionName). */
export function parseDayPartition(name: string): DayPartition | undefined {
  const m = /^flow_records_(\d{4})(\d{2})(\d{2})$/.exec(name);
  if (!m) return undefined;
  const from = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000;
  return { name, from, to: from + DAY };
}

export function retentionPlan(partitions: DayPartition[], topics: TopicRetention[], now: number): RetentionPlan {
  // With no log topics there is nothing to keep records for; otherwise the longest retention bounds the partitions.
  const longest = topics.length ? Math.max(...topics.map((t) => t.retentionDays)) : 0;
  const keepFrom = now - longest * DAY;
  const dropPartitions = partitions
    .filter((p) => p.to <= keepFrom)
    .map((p) => p.name)
    .sort();
  const oldestKept = Math.min(...partitions.filter((p) => p.to > keepFrom).map((p) => p.from));
  const byDays = new Map<number, string[]>();
  for (const t of topics) {
    if (t.retentionDays < longest) byDays.set(t.retentionDays, [...(byDays.get(t.retentionDays) ?? []), t.logTopicId]);
  }
  const deletes = [...byDays]
    .map(([days, logTopicIds]) => ({
      logTopicIds: logTopicIds.sort(),
      before: Math.floor((now - days * DAY) / HOUR) * HOUR,
    }))
    .filter((d) => d.before > oldestKept)
    .sort((a, b) => a.before - b.before);
  return {
    dropPartitions,
    rollupBefore: dropPartitions.length ? Math.floor(keepFrom / DAY) * DAY : undefined,
    deletes,
  };
}
