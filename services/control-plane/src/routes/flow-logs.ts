/** Flow logs: the rules that say which traffic is recorded into which log topic. */
import type { FastifyPluginAsync } from 'fastify';
import type { ResourceType } from '@flowlogs/contracts';
import { validate } from '../errors.js';
import { FLOW_LOGS, LOG_TOPICS, NETWORK_INTERFACES, SUBNETS, VPCS, type Resource } from '../resources.js';
import { toRule } from '../rules.js';
import { CreateFlowLog } from '../schemas.js';
import { readRoutes, requireOwned, type ApiContext } from './context.js';

/** The table a flow log's resourceId is looked up in, by its resourceType. */
const COVERED: Record<ResourceType, Resource<{ id: string; accountId: string }>> = {
  NETWORKINTERFACE: NETWORK_INTERFACES,
  SUBNET: SUBNETS,
  VPC: VPCS,
};

export const flowLogRoutes = ({ store, publishRules }: ApiContext): FastifyPluginAsync => async (app) => {
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
};
