import { Counter, Histogram, type Registry } from 'prom-client';

export function publisherMetrics(registry: Registry) {
  return {
    records: new Counter({
      name: 'flowlogs_publisher_records_total',
      help: 'Flow records stored and delivered',
      registers: [registry],
    }),
    duplicates: new Counter({
      name: 'flowlogs_publisher_duplicate_records_total',
      help: 'Records already stored (replays after a crash), not stored again',
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'flowlogs_publisher_dead_letters_total',
      help: 'Record batches that could not be decoded or stored, sent to the DLQ',
      registers: [registry],
    }),
    storeRetries: new Counter({
      name: 'flowlogs_publisher_store_retries_total',
      help: 'Postgres writes retried',
      registers: [registry],
    }),
    retentionDrops: new Counter({
      name: 'flowlogs_publisher_retention_dropped_partitions_total',
      help: 'Day partitions of flow_records dropped by retention',
      registers: [registry],
    }),
    rollupFolded: new Counter({
      name: 'flowlogs_publisher_rollup_folded_total',
      help: 'Pending rollup rows (stored OK records) folded into the rollups',
      registers: [registry],
    }),
    rollupLate: new Counter({
      name: 'flowlogs_publisher_rollup_late_records_total',
      help: 'Of the folded rows, records of a 10-minute slot already sealed (late: each key upserted on its own)',
      registers: [registry],
    }),
    rollupFoldSeconds: new Histogram({
      name: 'flowlogs_publisher_rollup_fold_seconds',
      help: 'Time of one fold of the pending rollup rows, with the seal of the slots due',
      registers: [registry],
    }),
    rollupFoldRetries: new Counter({
      name: 'flowlogs_publisher_rollup_fold_retries_total',
      help: 'Folds begun again after a serialization failure (another fold or retention committed meanwhile)',
      registers: [registry],
    }),
    rollupFoldFailures: new Counter({
      name: 'flowlogs_publisher_rollup_fold_failures_total',
      help: 'Folds of the pending rollup rows that failed (retried at the next interval)',
      registers: [registry],
    }),
    storeSeconds: new Histogram({
      name: 'flowlogs_publisher_store_seconds',
      help: 'Time to store one batch in Postgres',
      registers: [registry],
    }),
  };
}
export type PublisherMetrics = ReturnType<typeof publisherMetrics>;
