/** Flow logs: the rules that say which traffic is recorded into which log topic. */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ResourceType } from '@flowlogs/contracts';
import { notFound, validate } from '../errors.js';
import { openapi } from '../openapi.js';
import { FLOW_LOGS, LOG_TOPICS, NETWORK_INTERFACES, SUBNETS, VPCS, type Resource } from '../resources.js';
import { toRule } from '../rules.js';
import { CreateFlowLog, FlowLog, FlowLogListQuery, FlowLogRevision, ModifyFlowLog } from '../schemas.js';
import { owned, requireOwned, resourceRoutes, type ApiContext, type ById } from './context.js';

/** The table a flow log's resourceId is looked up in, by its resourceType. */
const COVERED: Record<ResourceType, Resource<{ id: string; accountId: string }>> = {
  NETWORKINTERFACE: NETWORK_INTERFACES,
  SUBNET: SUBNETS,
  VPC: VPCS,
};

export const flowLogRoutes =
  ({ store, publishRules, deleteRule }: ApiContext): FastifyPluginAsync =>
  async (app) => {
    resourceRoutes(app, store, '/flow-logs', FLOW_LOGS, FlowLog, {
      query: FlowLogListQuery,
      // The tombstone follows the delete: the aggregator forgets the rule.
      remove: async (key) => {
        if (!(await store.remove(FLOW_LOGS, key))) return false;
        await deleteRule(key.id);
        return true;
      },
    });

    app.post(
      '/flow-logs',
      openapi({
        summary: 'Create a flow log',
        body: CreateFlowLog,
        response: FlowLog,
        status: 201,
        errors: [404, 409],
      }),
      async (req, reply) => {
        const body = validate(CreateFlowLog, req.body);
        await requireOwned(store, LOG_TOPICS, req.principal, body.logTopicId, 'logTopicId');
        const flowLog = await store.createFlowLog(
          { accountId: req.principal.accountId, ...body },
          COVERED[body.resourceType],
        );
        // The aggregator relies on the rule being on the rules topic before the client sees 201. Should the
        // publish fail, the row is there and the next start-up republishes it.
        await publishRules([toRule(flowLog)]);
        reply.code(201);
        return flowLog;
      },
    );

    // Every change is published (and acked) before the answer, so the aggregator follows within moments.
    const change = async (req: ById, changes: Parameters<typeof store.updateFlowLog>[1]) => {
      const flowLog = await store.updateFlowLog(owned(req), changes);
      if (!flowLog) throw notFound(`flow log ${req.params.id} not found`);
      await publishRules([toRule(flowLog)]);
      return flowLog;
    };

    const changeDoc = (summary: string, body?: z.ZodType) =>
      openapi({
        summary,
        body,
        response: FlowLog,
        errors: body ? [409] : [],
        description: 'Revision + 1, on the rules topic before the answer.',
      });
    app.patch('/flow-logs/:id', changeDoc('Modify a flow log', ModifyFlowLog), async (req: ById) =>
      change(req, validate(ModifyFlowLog, req.body)),
    );
    app.post('/flow-logs/:id/enable', changeDoc('Enable a flow log'), async (req: ById) =>
      change(req, { enabled: true }),
    );
    app.post('/flow-logs/:id/disable', changeDoc('Disable a flow log'), async (req: ById) =>
      change(req, { enabled: false }),
    );

    app.get(
      '/flow-logs/:id/revisions',
      openapi({
        summary: "A flow log's revisions, newest first",
        description: 'Each create, modification, enable and disable, with the flow log as it became.',
        response: z.object({ items: z.array(FlowLogRevision) }),
      }),
      async (req: ById) => {
        const flowLog = await requireOwned(store, FLOW_LOGS, req.principal, req.params.id);
        return { items: await store.flowLogRevisions(flowLog.id) };
      },
    );
  };
