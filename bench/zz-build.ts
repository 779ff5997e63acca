import { createPool } from '@flowlogs/db';
import { buildRollups, T0 } from './lib/query-data.js';
const pool = createPool('postgres://postgres@127.0.0.1:5432/flowlogs_bench_query', 4);
const r = await buildRollups(pool, 'topic-84bada4391efddb01', T0, T0 + 86_400);
console.log(JSON.stringify(r));
await pool.query(
  `UPDATE bench_query_meta SET data = data || jsonb_build_object('days', 1, 'rollupSec', ${r.sec}, 'rollupUsPerRecord', ${r.usPerRecord}, 'foldRecords', ${r.foldRecords}) WHERE id = 1`,
);
await pool.end();
