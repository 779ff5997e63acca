import { describe, expect, it } from 'vitest';
import { dayPartitionName } from '@flowlogs/db';
import { parseDayPartition, retentionPlan } from '../src/retention.js';

const DAY = 86_400;
const now = Date.UTC(2026, 10, 25, 12) / 1000;
const days = (...ago: number[]) => ago.map((n) => parseDayPartition(dayPartitionName(now - n * DAY).name)!);

describe('retention', () => {
  it('reads the partition names the publisher creates', () => {
    expect(parseDayPartition('flow_records_20261125')).toEqual({
      name: 'flow_records_20261125',
      from: Date.UTC(2026, 10, 25) / 1000,
      to: Date.UTC(2026, 10, 26) / 1000,
    });
    expect(parseDayPartition('flow_records_default')).toBeUndefined();
  });

  it('drops whole days past the longest retention and deletes the older rows of shorter ones', () => {
    const plan = retentionPlan(
      days(0, 1, 2, 3, 8, 30),
      [
        { logTopicId: 'topic-a', retentionDays: 7 },
        { logTopicId: 'topic-b', retentionDays: 1 },
        { logTopicId: 'topic-c', retentionDays: 1 },
      ],
      now,
    );
    expect(plan.dropPartitions).toEqual(
      days(30, 8)
        .map((p) => p.name)
        .sort(),
    );
    expect(plan.rollupBefore).toBe(Date.UTC(2026, 10, 18) / 1000); // every day before the 7 kept
    expect(plan.deletes).toEqual([{ logTopicIds: ['topic-b', 'topic-c'], before: now - DAY }]);
  });

  it("deletes shorter retentions at the start of an hour, so an hour's rollup row goes with all its records", () => {
    const later = now + 25 * 60 + 7;
    const plan = retentionPlan(
      days(0, 1, 2),
      [
        { logTopicId: 'topic-a', retentionDays: 7 },
        { logTopicId: 'topic-b', retentionDays: 1 },
      ],
      later,
    );
    expect(plan).toEqual({
      dropPartitions: [],
      rollupBefore: undefined,
      deletes: [{ logTopicIds: ['topic-b'], before: now - DAY }],
    });
  });

  it('keeps everything inside the retention, and drops all when no log topic is left', () => {
    expect(retentionPlan(days(0, 1), [{ logTopicId: 't', retentionDays: 7 }], now)).toEqual({
      dropPartitions: [],
      deletes: [],
    });
    expect(retentionPlan(days(0, 1), [], now).dropPartitions).toEqual(days(1).map((p) => p.name));
  });
});
