/** The network inventory: VPCs, their subnets, and the ENIs in those. */
import type { FastifyPluginAsync } from 'fastify';
import { validate } from '../errors.js';
import { parseCidr, parseIp } from '../ip.js';
import { NETWORK_INTERFACES, SUBNETS, VPCS } from '../resources.js';
import { CreateNetworkInterface, CreateSubnet, CreateVpc } from '../schemas.js';
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
};
