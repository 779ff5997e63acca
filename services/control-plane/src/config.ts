import { z } from 'zod';
import { CommonConfig, envInt } from '@flowlogs/runtime';

/** The control plane's environment: the shared settings plus its HTTP listener and bootstrap key. */
export const ControlPlaneConfig = CommonConfig.extend({
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_PORT: envInt(8080).pipe(z.number().max(65_535)),
  /** When set, ensured at start-up as an admin key of the "default" account, so a fresh install can be used at once. */
  FLOWLOGS_API_KEY: z.string().min(16, 'at least 16 characters').optional(),
});
export type ControlPlaneConfig = z.infer<typeof ControlPlaneConfig>;
