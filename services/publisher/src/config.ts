import type { z } from 'zod';
import { SEAL_AFTER } from '@flowlogs/db';
import { CommonConfig, envInt, metricsListener, parseConfig } from '@flowlogs/runtime';

export const PublisherConfig = CommonConfig.extend({
  /** Attempts to store a batch that Postgres rejects (not counting waits while Postgres is down) before it goes to the DLQ. */
  FLOWLOGS_STORE_ATTEMPTS: envInt(3),
  /** How often retention drops expired day partitions (and deletes older rows of shorter-lived logsets). */
  FLOWLOGS_RETENTION_INTERVAL_MS: envInt(3_600_000),
  /** How often the rollup's pending rows (the records stored since) are folded into the rollups. */
  FLOWLOGS_ROLLUP_FOLD_MS: envInt(2_000),
  /** A 10-minute slot of the rollups is sealed (only its busiest keys kept) once no record came to it for this long. */
  FLOWLOGS_ROLLUP_SEAL_AFTER_S: envInt(SEAL_AFTER),
  ...metricsListener(9103),
});
export type PublisherConfig = z.infer<typeof PublisherConfig>;

export const loadConfig = (env = process.env) => parseConfig(PublisherConfig, env);
