import type { z } from 'zod';
import { CommonConfig, envInt, metricsListener, parseConfig } from '@flowlogs/runtime';

export const AggregatorConfig = CommonConfig.extend({
  /**
   * Seconds a window stays open after event time passes its end, beyond what each source needs:
   * the agent's batches report event time that far behind as its source's packets may come (see
   * the capture agent's sources), so 0 takes no packet on time for late.
   */
  FLOWLOGS_ALLOWED_LATENESS_S: envInt(0),
  /** A partition of live sources without input for this long closes the windows that wall-clock time has passed. */
  FLOWLOGS_IDLE_CLOSE_MS: envInt(2000),
  /** A file replay that has sent nothing for this long is taken as over (its agent died): its windows close. */
  FLOWLOGS_STALLED_REPLAY_MS: envInt(60_000),
  /** Flows held in open windows per input partition at most: bounded memory; beyond it new flows are SKIPDATA. */
  FLOWLOGS_MAX_FLOWS_PER_PARTITION: envInt(1_000_000),
  /** Records per message on the records topic (keeps messages well under the broker's 1 MB limit). */
  FLOWLOGS_RECORDS_PER_MESSAGE: envInt(500),
  ...metricsListener(9102),
});
export type AggregatorConfig = z.infer<typeof AggregatorConfig>;

export const loadConfig = (env = process.env) => parseConfig(AggregatorConfig, env);
