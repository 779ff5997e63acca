import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import { bearerToken, hashApiKey } from '../api-key.js';
import { HttpError } from '../errors.js';
import { accountRoutes } from './accounts.js';
import { agentRoutes } from './agents.js';
import { authenticate } from './auth.js';
import type { ApiContext } from './context.js';
import { flowLogRoutes } from './flow-logs.js';
import { loggingRoutes } from './logging.js';
import { networkRoutes } from './network.js';
import { pipelineRoutes } from './pipeline.js';
import { recordRoutes } from './records.js';

/** The authenticated API; every query in it is scoped by the caller's account. */
export const v1Routes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    app.decorateRequest('principal', null as never);
    // Per API key (per address without one), before authentication, so a flood does not reach Postgres.
    await app.register(rateLimit, {
      max: ctx.rateLimit,
      timeWindow: 60_000,
      keyGenerator: (req) => {
        const key = bearerToken(req.headers.authorization);
        return key === undefined ? `ip:${req.ip}` : `key:${hashApiKey(key)}`;
      },
      errorResponseBuilder: (_req, { max, after }) =>
        new HttpError(429, `more than ${max} requests a minute with this API key; retry in ${after}`),
    });
    app.addHook('onRequest', authenticate(ctx.store));
    for (const routes of [
      accountRoutes,
      agentRoutes,
      networkRoutes,
      loggingRoutes,
      flowLogRoutes,
      recordRoutes,
      pipelineRoutes,
    ])
      await app.register(routes(ctx));
  };
