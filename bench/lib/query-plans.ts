/**
 * EXPLAIN (ANALYZE, BUFFERS) of the statements the API runs, taken with the control plane's own SQL
 * builders (search.ts, analysis.ts), and a short summary of each plan: its nodes, the indexes and
 * partitions it touched, buffers and time.
 */
import type { Pool } from '@flowlogs/db';

export interface Sql {
  text: string;
  values: unknown[];
}

export interface PlanSummary {
  /** The plan's node lines (operators with actual rows and loops), indented as EXPLAIN prints them. */
  nodes: string[];
  indexes: string[];
  partitions: string[];
  /** The top node's "Buffers:" line. */
  buffers: string;
  executionMs: number;
  planningMs: number;
  full: string;
}

/** Runs a statement as the API does: in a transaction with the settings it runs under (analysis.ts's TOP_SETTINGS), if any. */
export async function queryAsApi<R extends object>(pool: Pool, sql: Sql, settings?: string): Promise<R[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    if (settings) await client.query(settings);
    return (await client.query<R>(sql.text, sql.values)).rows;
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

export async function explain(pool: Pool, sql: Sql, settings?: string): Promise<PlanSummary> {
  const rows = await queryAsApi<{ 'QUERY PLAN': string }>(
    pool,
    { text: `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql.text}`, values: sql.values },
    settings,
  );
  const lines = rows.map((r) => r['QUERY PLAN']);
  const nodes = lines
    .filter((l, i) => i === 0 || /^\s*->/.test(l))
    .map((l) => l.replace(/\(actual time=[\d.]+\.\.([\d.]+) rows=(\d+) loops=(\d+)\)/, '(rows=$2 loops=$3 ms=$1)'));
  const indexes = new Set<string>();
  const partitions = new Set<string>();
  for (const l of lines) {
    const idx = /(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\S+)(?: on (\S+))?/.exec(
      l,
    );
    if (idx) {
      indexes.add(idx[1]);
      if (idx[2]) partitions.add(idx[2]);
    }
    const heap = /(?:Seq Scan|Bitmap Heap Scan|Parallel Seq Scan) on (\S+)/.exec(l);
    if (heap) partitions.add(heap[1]);
  }
  const buffers = lines.find((l) => /^\s*Buffers:/.test(l))?.trim() ?? '';
  const ms = (label: string) => Number(new RegExp(`${label}: ([\\d.]+) ms`).exec(lines.join('\n'))?.[1] ?? NaN);
  return {
    nodes,
    indexes: [...indexes].sort(),
    partitions: [...partitions].sort(),
    buffers,
    executionMs: ms('Execution Time'),
    planningMs: ms('Planning Time'),
    full: lines.join('\n'),
  };
}

/** A few lines for the report: the node tree (trimmed), then indexes, partitions, buffers and time. */
export function formatPlan(p: PlanSummary, maxNodes = 14): string {
  const nodes =
    p.nodes.length > maxNodes
      ? [...p.nodes.slice(0, maxNodes), `  … ${p.nodes.length - maxNodes} more nodes`]
      : p.nodes;
  return [
    ...nodes.map((n) => `    ${n}`),
    `    indexes: ${p.indexes.join(', ') || 'none'}; partitions: ${p.partitions.join(', ') || 'none'}`,
    `    ${p.buffers}; planning ${p.planningMs.toFixed(1)} ms, execution ${p.executionMs.toFixed(1)} ms`,
  ].join('\n');
}
