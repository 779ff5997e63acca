/** The network inventory: VPCs, their subnets, and the ENIs in those. */
import type { FastifyPluginAsync } from 'fastify';
import { HttpError, validate } from '../errors.js';
import { parseCidr, parseIp } from '../ip.js';
import { NETWORK_INTERFACES, SUBNETS, VPCS } from '../resources.js';
import { CreateNetworkInterface, CreateSubnet, CreateVpc, EniId } from '../schemas.js';
import { readRoutes, requireInside, requireOwned, type ApiContext } from './context.js';

export const networkRoutes = ({ store }: ApiContext): FastifyPluginAsync => async (app) => {
  readRoutes(app, store, '/vpcs', VPCS);
  readRoutes(app, store, '/subnets', SUBNETS);
  readRoutes(app, store, '/network-interfaces', NETWORK_INTERFACES);

  app.post('/vpcs', async (req, reply) => {
    const body = validate(CreateVpc, req.body);
    reply.code(201);
    return store.create(VPCS, { accountId: req.principal.accountId, ...body });
  });

  app.post('/subnets', async (req, reply) => {
    const body = validate(CreateSubnet, req.body);
    const vpc = await requireOwned(store, VPCS, req.principal, body.vpcId, 'vpcId');
    requireInside({ label: VPCS.label, ...vpc }, parseCidr(body.cidrBlock)!, 'cidrBlock', body.cidrBlock);
    reply.code(201);
    return store.create(SUBNETS, { accountId: req.principal.accountId, ...body });
  });

  app.post('/network-interfaces', async (req, reply) => {
    const body = validate(CreateNetworkInterface, req.body);
    const subnet = await requireOwned(store, SUBNETS, req.principal, body.subnetId, 'subnetId');
    requireInside({ label: SUBNETS.label, ...subnet }, parseIp(body.primaryIp)!, 'primaryIp', body.primaryIp);
    reply.code(201);
    return store.create(NETWORK_INTERFACES, { accountId: req.principal.accountId, vpcId: subnet.vpcId, ...body });
  });

  // A capture agent registers the ENI it owns under its own id: created when missing (201), answered
  // when it is there already in the same subnet with the same address (200; the name is kept).
  app.put<{ Params: { id: string } }>('/network-interfaces/:id', async (req, reply) => {
    const id = validate(EniId, req.params.id, 'id');
    const body = validate(CreateNetworkInterface, req.body);
    const subnet = await requireOwned(store, SUBNETS, req.principal, body.subnetId, 'subnetId');
    const ip = parseIp(body.primaryIp)!;
    requireInside({ label: SUBNETS.label, ...subnet }, ip, 'primaryIp', body.primaryIp);
    const { accountId } = req.principal;
    const created = await store.createIfAbsent(NETWORK_INTERFACES, { id, accountId, vpcId: subnet.vpcId, ...body });
    if (created) {
      reply.code(201);
      return created;
    }
    const [existing] = await store.find(NETWORK_INTERFACES, { accountId, id });
    // Ids are global: one of another account's is taken, without saying more about it.
    if (!existing) throw new HttpError(409, `network interface id ${id} is taken`);
    const stored = parseIp(existing.primaryIp)!;
    if (existing.subnetId !== body.subnetId || stored.version !== ip.version || stored.value !== ip.value) {
      throw new HttpError(409, `network interface ${id} exists with subnetId ${existing.subnetId} and primaryIp ${existing.primaryIp}`);
    }
    return existing;
  });
};
