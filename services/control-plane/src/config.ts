import { z } from 'zod';
import { CommonConfig, envInt, parseConfig } from '@flowlogs/runtime';

/** The control plane's environment: the shared settings plus its HTTP listener and bootstrap key. */
export const ControlPlaneConfig = CommonConfig.extend({
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_PORT: envInt(8080).pipe(z.number().max(65_535)),
  /**
   * When set, ensured at start-up as an admin key of the operator account (made as "default"), so a fresh
   * install can be used at once. When unset (or empty), the first start makes a key and logs it once.
   */
  FLOWLOGS_API_KEY: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().min(16, 'at least 16 characters').optional(),
  ),
  /** Requests a minute per API key on /v1 (health and metrics are not limited); beyond it, 429 with Retry-After. */
  FLOWLOGS_RATE_LIMIT: envInt(6000).pipe(z.number().min(1)),
});
export type ControlPlaneConfig = z.infer<typeof ControlPlaneConfig>;

export const loadConfig = (env = process.env) => parseConfig(ControlPlaneConfig, env);
