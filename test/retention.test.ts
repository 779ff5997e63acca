/** Retention on the real database: a logset's retentionDays drops whole day partitions once passed. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayPartitionName, ensureDayPartitions } from '@flowlogs/db';
import { startStack, type Stack } from './support/stack.js';

const DAY = 86_400;

describe('retention', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('drops the day partitions older than the longest retention and deletes older rows of shorter ones', async () => {
    const { api, db } = stack;
    const week = (await api('POST', '/v1/logsets', { name: 'week', retentionDays: 7 })).body;
    const day = (await api('POST', '/v1/logsets', { name: 'day', retentionDays: 1 })).body;
    const long = (await api('POST', '/v1/log-topics', { logsetId: week.id, name: 'long' })).body;
    const short = (await api('POST', '/v1/log-topics', { logsetId: day.id, name: 'short' })).body;
    const now = Math.floor(Date.now() / 1000);
    const ages = [0, 3, 10]; // days
    await ensureDayPartitions(db.pool, ages.map((a) => now - a * DAY), new Set());
    for (const topic of [long, short]) {
      for (const age of ages) {
        const ws = now - age * DAY - (now % 60);
        await db.pool.query(
          `INSERT INTO flow_records (record_id, window_start, window_end, log_topic_id, flow_log_id, account_id, interface_id, log_status, record)
           VALUES ($1, $2, $3, $4, 'fl-x', 'acct', 'eni-x', 'NODATA', '{}')`, [`${topic.id}-${age}`, ws, ws + 60, topic.id]);
      }
    }
    const partitions = async () => (await db.pool.query<{ name: string }>(
      "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'flow_records' ORDER BY 1",
    )).rows.map((r) => r.name);
    expect(await partitions()).toEqual(ages.map((a) => dayPartitionName(now - a * DAY).name).sort());

    const result = await stack.publisher.applyRetention(now);
    expect(result.dropped).toEqual([dayPartitionName(now - 10 * DAY).name]);
    expect(await partitions()).toEqual([0, 3].map((a) => dayPartitionName(now - a * DAY).name).sort());
    const left = (await db.pool.query<{ record_id: string }>('SELECT record_id FROM flow_records ORDER BY 1')).rows.map((r) => r.record_id);
    expect(left).toEqual([`${long.id}-0`, `${long.id}-3`, `${short.id}-0`].sort());
  });
});
