import type { FastifyPluginAsync } from 'fastify';
import { authenticate } from './auth.js';
import type { ApiContext } from './context.js';
import { flowLogRoutes } from './flow-logs.js';
import { loggingRoutes } from './logging.js';
import { networkRoutes } from './network.js';
import { pipelineRoutes } from './pipeline.js';
import { recordRoutes } from './records.js';

/** The authenticated API; every query in it is scoped by the caller's account. */
export const v1Routes = (ctx: ApiContext): FastifyPluginAsync => async (app) => {
  app.decorateRequest('principal', null as never);
  app.addHook('onRequest', authenticate(ctx.store));
  for (const routes of [networkRoutes, loggingRoutes, flowLogRoutes, recordRoutes, pipelineRoutes]) await app.register(routes(ctx));
};
