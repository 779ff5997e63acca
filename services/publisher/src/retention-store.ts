/** Retention applied to Postgres: the day partitions and rows that retention.ts's plan says go. */
import { ADVISORY_LOCKS, ROLLUP_DAY_REST_SQL, ROLLUP_WRITER_SQL, rollupDeleteSql, type Pool } from '@flowlogs/db';
import { parseDayPartition, retentionPlan, type DayPartition, type TopicRetention } from './retention.js';

/**
 * Drops the day partitions past every log topic's retention and deletes older rows of shorter ones.
 * One publisher at a time does it (an advisory lock): the others skip this round (nothing dropped).
 * No rollup fold runs meanwhile.
 */
export async function applyRetention(
  pool: Pool,
  topics: TopicRetention[],
  now: number,
): Promise<{ dropped: string[]; deleted: number }> {
  const client = await pool.connect();
  try {
    const {
      rows: [lock],
    } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [ADVISORY_LOCKS.retention]);
    if (!lock.ok) return { dropped: [], deleted: 0 };
    try {
      // No fold meanwhile: one that took pending rows before a delete below, and committed after it,
      // would leave their hours in the rollup without their records.
      await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.rollupFold]);
      const partitions = (
        await client.query<{ name: string }>(
          "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'flow_records'",
        )
      ).rows
        .map((r) => parseDayPartition(r.name))
        .filter((p): p is DayPartition => p !== undefined);
      const plan = retentionPlan(partitions, topics, now);
      // The rollup's rows first: should this stop between the two, the next round drops the partitions again.
      if (plan.rollupBefore !== undefined) {
        await client.query(`${rollupDeleteSql('')} SELECT 1`, [plan.rollupBefore]);
      }
      // Names come from parseDayPartition's pattern, so they are safe identifiers.
      for (const name of plan.dropPartitions) await client.query(`DROP TABLE IF EXISTS ${name}`);
      let deleted = 0;
      for (const d of plan.deletes) {
        // One transaction: the cut-off's day loses its daily totals and gets those of its records kept.
        await client.query('BEGIN');
        try {
          deleted +=
            (
              await client.query(
                `${rollupDeleteSql('log_topic_id = ANY($2) AND ')} DELETE FROM flow_records WHERE log_topic_id = ANY($2) AND window_start < $1`,
                [d.before, d.logTopicIds],
              )
            ).rowCount ?? 0;
          await client.query(ROLLUP_WRITER_SQL);
          await client.query(ROLLUP_DAY_REST_SQL, [d.before, d.logTopicIds]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
      return { dropped: plan.dropPartitions, deleted };
    } finally {
      await client.query('SELECT pg_advisory_unlock_all()');
    }
  } finally {
    client.release();
  }
}
