/** Retention on the real database: a logset's retentionDays drops whole day partitions once passed, and the rollup's rows go with their records. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '@flowlogs/contracts';
import { makeRecord } from '@flowlogs/testkit';
import { ADVISORY_LOCKS, dayPartitionName, ensureDayPartitions } from '@flowlogs/db';
import { insertRecords } from '../services/publisher/src/store.js';
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
    await ensureDayPartitions(
      db.pool,
      ages.map((a) => now - a * DAY),
      new Set(),
    );
    const records = [long, short].flatMap((topic) =>
      ages.map((age): FlowRecord => {
        const ws = now - age * DAY - (now % 60);
        return makeRecord({
          accountId: 'acct',
          interfaceId: 'eni-x',
          packets: 1,
          bytes: 60,
          start: ws,
          end: ws,
          windowStart: ws,
          windowEnd: ws + 60,
          flowLogId: 'fl-x',
          logTopicId: topic.id,
          recordId: `${topic.id}-${age}`,
        });
      }),
    );
    await insertRecords(db.pool, records);
    /** The log topics and hours the rollups (slots, series) hold rows of, folded or still pending (the stack's publisher folds every few seconds). */
    const rollupHours = async () =>
      (
        await db.pool.query<{ log_topic_id: string; hour: number }>(
          'SELECT DISTINCT log_topic_id, at - at % 3600 AS hour FROM (' +
            "SELECT log_topic_id, slot AS at FROM flow_rollup_slot WHERE dimension = 'srcaddr' UNION ALL SELECT log_topic_id, window_start FROM flow_rollup_series " +
            'UNION ALL SELECT log_topic_id, window_start FROM flow_rollup_pending) AS rollup ORDER BY 1, 2',
        )
      ).rows;
    const hoursOf = (rows: Array<[{ id: string }, number]>) =>
      rows
        .map(([topic, age]) => ({
          log_topic_id: topic.id,
          hour: Math.floor((now - age * DAY - (now % 60)) / 3600) * 3600,
        }))
        .sort((a, b) =>
          a.log_topic_id === b.log_topic_id ? a.hour - b.hour : a.log_topic_id < b.log_topic_id ? -1 : 1,
        );
    expect(await rollupHours()).toEqual(
      hoursOf([long, short].flatMap((t) => ages.map((a): [{ id: string }, number] => [t, a]))),
    );
    const partitions = async () =>
      (
        await db.pool.query<{ name: string }>(
          "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'flow_records' ORDER BY 1",
        )
      ).rows.map((r) => r.name);
    // The publisher made today's and tomorrow's partitions at start, ahead of their records.
    const tomorrow = dayPartitionName(now + DAY).name;
    expect(await partitions()).toEqual([...ages.map((a) => dayPartitionName(now - a * DAY).name), tomorrow].sort());

    const result = await stack.publisher.applyRetention(now);
    expect(result.dropped).toEqual([dayPartitionName(now - 10 * DAY).name]);
    expect(await partitions()).toEqual([...[0, 3].map((a) => dayPartitionName(now - a * DAY).name), tomorrow].sort());
    const left = (await db.pool.query<{ record_id: string }>('SELECT record_id FROM flow_records ORDER BY 1')).rows.map(
      (r) => r.record_id,
    );
    expect(left).toEqual([`${long.id}-0`, `${long.id}-3`, `${short.id}-0`].sort());
    expect(await rollupHours()).toEqual(
      hoursOf([
        [long, 0],
        [long, 3],
        [short, 0],
      ]),
    );
  });

  it('waits for a rollup fold in progress before it deletes, and lets go of the fold lock after', async () => {
    const fold = await stack.db.pool.connect();
    try {
      await fold.query('BEGIN');
      await fold.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.rollupFold]); // as foldRollup holds it
      let done = false;
      const retention = stack.publisher.applyRetention().then(() => (done = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(done).toBe(false);
      await fold.query('COMMIT');
      await retention;
      expect(done).toBe(true);
      // And retention let go of the lock: the next fold takes it (the stack's publisher may hold it for a moment).
      const probe = await stack.db.pool.connect();
      try {
        let free = false;
        for (let i = 0; i < 20 && !free; i++) {
          free = (
            await probe.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [ADVISORY_LOCKS.rollupFold])
          ).rows[0].ok;
          if (!free) await new Promise((r) => setTimeout(r, 50));
        }
        expect(free).toBe(true);
        await probe.query('SELECT pg_advisory_unlock_all()');
      } finally {
        probe.release();
      }
    } finally {
      fold.release();
    }
  });
});
