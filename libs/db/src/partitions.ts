import type { Pool } from './pool.js';

const DAY = 86_400;

export function dayPartitionName(windowStart: number): { name: string; from: number; to: number } {
  const from = Math.floor(windowStart / DAY) * DAY;
  const d = new Date(from * 1000);
  const name = `flow_records_${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  return { name, from, to: from + DAY };
}

/** Window starts in today (UTC) and in each of the `days` after it: the partitions made ahead of their records. */
export function daysAhead(now: number, days: number): number[] {
  const today = Math.floor(now / DAY) * DAY;
  return Array.from({ length: days + 1 }, (_, i) => today + i * DAY);
}

/** Creates the daily partitions of flow_records that hold these window starts (any date, old captures too). */
export async function ensureDayPartitions(
  pool: Pool,
  windowStarts: Iterable<number>,
  known: Set<string>,
): Promise<void> {
  for (const ws of windowStarts) {
    const { name, from, to } = dayPartitionName(ws);
    if (known.has(name)) continue;
    try {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF flow_records FOR VALUES FROM (${from}) TO (${to})`,
      );
    } catch (err) {
      // Another publisher created it between our check and our CREATE.
      const code = (err as { code?: string }).code;
      if (code !== '42P07' && code !== '23505') throw err;
    }
    known.add(name);
  }
}
