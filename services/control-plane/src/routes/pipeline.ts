/** Pipeline health: per flow log from its records, and the consumer groups' lag. */
import type { FastifyPluginAsync } from 'fastify';
import { consumerGroupLags, flowLogHealth, pipelineConsumers } from '../health.js';
import { FLOW_LOGS } from '../resources.js';
import { requireOwned, type ApiContext } from './context.js';

export const pipelineRoutes = ({ store, topics, kafka }: ApiContext): FastifyPluginAsync => async (app) => {
  app.get<{ Params: { id: string } }>('/flow-logs/:id/health', async (req) => {
    const flowLog = await requireOwned(store, FLOW_LOGS, req.principal, req.params.id);
    return flowLogHealth(await store.flowLogHealth(req.principal.accountId, flowLog.id, Math.floor(Date.now() / 1000)));
  });

  app.get('/pipeline/health', async () => ({ consumerGroups: await consumerGroupLags(kafka.admin, pipelineConsumers(topics)) }));
};
