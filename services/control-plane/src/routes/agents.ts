/**
 * Binding an ENI to the capture agent that captures it. The agent gets its secret (one per agent and
 * account, made at its first binding) to sign its packet batches; the binding goes on the inventory
 * topic, acknowledged before the answer, so the aggregator knows it before any batch it signs.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { notFound, validate } from '../errors.js';
import { openapi } from '../openapi.js';
import { EniId } from '../schemas.js';
import { NETWORK_INTERFACES } from '../resources.js';
import { requireOwned, type ApiContext, type ById } from './context.js';

const BindAgent = z.strictObject({
  agentId: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" and "-", at most 100')
    .meta({ description: 'the agent capturing the ENI' }),
});
const AgentBinding = z.object({
  eniId: z.string(),
  agentId: z.string(),
  secret: z.string().meta({
    description:
      "the agent's signing secret (base64url): HMAC-SHA256 of each packet batch, in the Kafka header flowlogs-signature",
  }),
});

export const agentRoutes =
  ({ store, publishBinding }: ApiContext): FastifyPluginAsync =>
  async (app) => {
    app.post(
      '/network-interfaces/:id/agent',
      openapi({
        summary: 'Bind an ENI to the capture agent that captures it (agents)',
        description:
          'Only batches signed by the bound agent are aggregated for the ENI. The agent bound before may finish ' +
          'the batches it had in flight (packets up to the rebinding).',
        body: BindAgent,
        response: AgentBinding,
        errors: [404],
      }),
      async (req: ById) => {
        const eniId = validate(EniId, req.params.id, 'id');
        // Another account's ENI is 404 whatever the body, as everywhere.
        await requireOwned(store, NETWORK_INTERFACES, req.principal, eniId);
        const { agentId } = validate(BindAgent, req.body);
        const binding = await store.bindAgent(
          req.principal.accountId,
          eniId,
          agentId,
          randomBytes(32).toString('base64url'),
        );
        if (!binding) throw notFound(`network interface ${eniId} not found`);
        await publishBinding(binding);
        return { eniId, agentId, secret: binding.secret };
      },
    );
  };
