/** Pipeline health: per flow log and per ENI from their records, and the consumer groups' lag. */
import type { FastifyPluginAsync } from 'fastify';
import {
  consumerGroupLags,
  EniActivity,
  eniActivity,
  FlowLogHealth,
  flowLogHealth,
  PipelineHealth,
  pipelineConsumers,
} from '../health.js';
import { openapi } from '../openapi.js';
import { FLOW_LOGS, NETWORK_INTERFACES } from '../resources.js';
import { requireOwned, type ApiContext } from './context.js';

export const pipelineRoutes =
  ({ store, topics, kafka }: ApiContext): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Params: { id: string } }>(
      '/flow-logs/:id/health',
      openapi({
        summary: "A flow log's health",
        description:
          'When its newest record ended, records per minute, and over the last hour the SKIPDATA records (packets lost) and NODATA records (windows without traffic).',
        response: FlowLogHealth,
      }),
      async (req) => {
        const flowLog = await requireOwned(store, FLOW_LOGS, req.principal, req.params.id);
        return flowLogHealth(
          await store.flowLogHealth(req.principal.accountId, flowLog.id, Math.floor(Date.now() / 1000)),
        );
      },
    );

    app.get<{ Params: { id: string } }>(
      '/network-interfaces/:id/activity',
      openapi({
        summary: "An ENI's activity",
        description:
          'From its records of the last 24 h: when its agent last reported it capturing, and when it last had traffic.',
        response: EniActivity,
      }),
      async (req) => {
        const eni = await requireOwned(store, NETWORK_INTERFACES, req.principal, req.params.id);
        return eniActivity(await store.eniActivity(req.principal.accountId, eni.id, Math.floor(Date.now() / 1000)));
      },
    );

    app.get(
      '/pipeline/health',
      openapi({
        summary: "The pipeline's consumer lag",
        description: 'Per consumer group (aggregator, publisher): messages of its topic not yet committed.',
        response: PipelineHealth,
      }),
      async (): Promise<PipelineHealth> => ({
        consumerGroups: await consumerGroupLags(kafka.admin, pipelineConsumers(topics)),
      }),
    );
  };
