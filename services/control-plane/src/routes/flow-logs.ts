/** Flow logs: the rules that say which traffic is recorded into which log topic. */
import type { FastifyPluginAsync } from 'fastify';
import type { ResourceType } from '@flowlogs/contracts';
import { validate } from '../errors.js';
import { FLOW_LOGS, LOG_TOPICS, NETWORK_INTERFACES, SUBNETS, VPCS, type Resource } from '../resources.js';
import { toRule } from '../rules.js';
import { notFound } from '../errors.js';
import { CreateFlowLog, ModifyFlowLog } from '../schemas.js';
import { readRoutes, requireOwned, type ApiContext } from './context.js';

/** The table a flow log's resourceId is looked up in, by its resourceType. */
const COVERED: Record<ResourceType, Resource<{ id: string; accountId: string }>> = {
  NETWORKINTERFACE: NETWORK_INTERFACES,
  SUBNET: SUBNETS,
  VPC: VPCS,
};

export const flowLogRoutes = ({ store, publishRules, deleteRule }: ApiContext): FastifyPluginAsync => async (app) => {
  readRoutes(app, store, '/flow-logs', FLOW_LOGS);

  app.post('/flow-logs', async (req, reply) => {
    const body = validate(CreateFlowLog, req.body);
    await requireOwned(store, LOG_TOPICS, req.principal, body.logTopicId, 'logTopicId');
    await requireOwned(store, COVERED[body.resourceType], req.principal, body.resourceId, 'resourceId');
    const flowLog = await store.create(FLOW_LOGS, { accountId: req.principal.accountId, ...body });
    // The aggregator relies on the rule being on the rules topic before the client sees 201. Should the
    // publish fail, the row is there and the next start-up republishes it.
    await publishRules([toRule(flowLog)]);
    reply.code(201);
    return flowLog;
  });

  // Every change is published (and acked) before the answer, so the aggregator follows within moments.
  const change = async (accountId: string, id: string, changes: Parameters<typeof store.updateFlowLog>[2]) => {
    const flowLog = await store.updateFlowLog(accountId, id, changes);
    if (!flowLog) throw notFound(`flow log ${id} not found`);
    await publishRules([toRule(flowLog)]);
    return flowLog;
  };

  app.patch<{ Params: { id: string } }>('/flow-logs/:id', async (req) => change(req.principal.accountId, req.params.id, validate(ModifyFlowLog, req.body)));
  app.post<{ Params: { id: string } }>('/flow-logs/:id/enable', async (req) => change(req.principal.accountId, req.params.id, { enabled: true }));
  app.post<{ Params: { id: string } }>('/flow-logs/:id/disable', async (req) => change(req.principal.accountId, req.params.id, { enabled: false }));

  app.delete<{ Params: { id: string } }>('/flow-logs/:id', async (req, reply) => {
    if (!(await store.deleteFlowLog(req.principal.accountId, req.params.id))) throw notFound(`flow log ${req.params.id} not found`);
    await deleteRule(req.params.id);
    reply.code(204);
  });
};
