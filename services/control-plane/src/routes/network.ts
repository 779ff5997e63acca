/** The network inventory: VPCs, their subnets, and the ENIs in those. */
import type { FastifyPluginAsync } from 'fastify';
import { conflict, validate } from '../errors.js';
import { parseCidr, parseIp } from '../ip.js';
import { openapi } from '../openapi.js';
import { NETWORK_INTERFACES, SUBNETS, VPCS } from '../resources.js';
import {
  CreateNetworkInterface,
  CreateSubnet,
  CreateVpc,
  EniId,
  NetworkInterface,
  RegisterNetworkInterface,
  Subnet,
  Vpc,
} from '../schemas.js';
import { requireInside, requireOwned, resourceRoutes, type ApiContext, type ById } from './context.js';

export const networkRoutes =
  ({ store, deleteBinding }: ApiContext): FastifyPluginAsync =>
  async (app) => {
    resourceRoutes(app, store, '/vpcs', VPCS, Vpc);
    resourceRoutes(app, store, '/subnets', SUBNETS, Subnet);
    resourceRoutes(app, store, '/network-interfaces', NETWORK_INTERFACES, NetworkInterface, {
      // The binding goes with the ENI (ON DELETE CASCADE); its tombstone follows, so the aggregator
      // dead-letters the agent's batches for an ENI that no longer exists.
      remove: async (key) => {
        if (!(await store.remove(NETWORK_INTERFACES, key))) return false;
        await deleteBinding(key.accountId, key.id);
        return true;
      },
    });

    app.post(
      '/vpcs',
      openapi({ summary: 'Create a VPC', body: CreateVpc, response: Vpc, status: 201, errors: [409] }),
      async (req, reply) => {
        const body = validate(CreateVpc, req.body);
        reply.code(201);
        return store.create(VPCS, { accountId: req.principal.accountId, ...body });
      },
    );

    app.post(
      '/subnets',
      openapi({
        summary: 'Create a subnet in a VPC',
        body: CreateSubnet,
        response: Subnet,
        status: 201,
        errors: [404, 409],
      }),
      async (req, reply) => {
        const body = validate(CreateSubnet, req.body);
        const vpc = await requireOwned(store, VPCS, req.principal, body.vpcId, 'vpcId');
        requireInside({ label: VPCS.label, ...vpc }, parseCidr(body.cidrBlock)!, 'cidrBlock', body.cidrBlock);
        reply.code(201);
        return store.create(SUBNETS, { accountId: req.principal.accountId, ...body });
      },
    );

    const eniDoc = { body: CreateNetworkInterface, response: NetworkInterface, errors: [404, 409] };

    // An address is one ENI's in its subnet. Agents registering by id (PUT, below) are not held to this: one
    // address can be seen through several capture sources (a live interface and its nftables verdicts).
    app.post(
      '/network-interfaces',
      openapi({ summary: 'Create an ENI in a subnet', status: 201, ...eniDoc }),
      async (req, reply) => {
        const body = validate(CreateNetworkInterface, req.body);
        const { accountId } = req.principal;
        const subnet = await requireOwned(store, SUBNETS, req.principal, body.subnetId, 'subnetId');
        requireInside({ label: SUBNETS.label, ...subnet }, parseIp(body.primaryIp)!, 'primaryIp', body.primaryIp);
        const [holder] = await store.find(NETWORK_INTERFACES, {
          accountId,
          subnetId: subnet.id,
          primaryIp: body.primaryIp,
        });
        if (holder)
          throw conflict(`primaryIp: ${body.primaryIp} is network interface ${holder.id}'s in subnet ${subnet.id}`);
        reply.code(201);
        return store.create(NETWORK_INTERFACES, { accountId, vpcId: subnet.vpcId, ...body });
      },
    );

    // A capture agent registers the ENI it owns under its own id: created when missing (201), answered
    // when it is there already in the same subnet with the same address (200; the name is kept). Ids are
    // per account, so another account's ENI of the same id is no concern of this one's (nor is it told of it).
    app.put(
      '/network-interfaces/:id',
      openapi({
        summary: 'Register an ENI under its id (capture agents)',
        description:
          '201 when created, 200 when it exists in that subnet with that address, 409 otherwise. ' +
          'With `agentId`, the ENI records that agent and the time (its `agentId` and `registeredAt`).',
        ...eniDoc,
        body: RegisterNetworkInterface,
      }),
      async (req: ById, reply) => {
        const id = validate(EniId, req.params.id, 'id');
        const { agentId, ...body } = validate(RegisterNetworkInterface, req.body);
        const subnet = await requireOwned(store, SUBNETS, req.principal, body.subnetId, 'subnetId');
        const ip = parseIp(body.primaryIp)!;
        requireInside({ label: SUBNETS.label, ...subnet }, ip, 'primaryIp', body.primaryIp);
        const { accountId } = req.principal;
        const agent = agentId === undefined ? {} : { agentId, registeredAt: new Date() };
        const created = await store.createIfAbsent(NETWORK_INTERFACES, {
          id,
          accountId,
          vpcId: subnet.vpcId,
          ...body,
          ...agent,
        });
        if (created) {
          reply.code(201);
          return created;
        }
        const existing = await requireOwned(store, NETWORK_INTERFACES, req.principal, id); // deleted meanwhile: 404
        const stored = parseIp(existing.primaryIp)!;
        if (existing.subnetId !== body.subnetId || stored.version !== ip.version || stored.value !== ip.value) {
          throw conflict(
            `network interface ${id} exists with subnetId ${existing.subnetId} and primaryIp ${existing.primaryIp}`,
          );
        }
        return agentId === undefined
          ? existing
          : ((await store.update(NETWORK_INTERFACES, { accountId, id }, agent)) ?? existing);
      },
    );
  };
