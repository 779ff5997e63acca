/**
 * Accounts are isolated on every /v1 route: the routes come from the OpenAPI document, so a new route is
 * covered as soon as it is registered. Account B, using account A's ids in paths and bodies, gets 404;
 * B's lists and answers never hold anything of A's; and A's resources are unchanged afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type ApiResponse, type Stack } from './support/stack.js';

let stack: Stack;
let keyB: string;
/** A's ids by the collection they are in (the path segment after /v1), and A's account id. */
const idsOfA: Record<string, string> = {};
let accountA: string;
let subnetB: string;

const asB = (method: string, path: string, body?: unknown) => stack.api(method, path, body, keyB);
async function created(path: string, body: unknown, key?: string): Promise<any> {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await stack.api('POST', path, body, key);
  expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(201);
  return res.body;
}

beforeAll(async () => {
  stack = await startStack();
  const vpc = await created('/v1/vpcs', { name: 'a', cidrBlock: '10.0.0.0/16' });
  accountA = vpc.accountId;
  idsOfA.vpcs = vpc.id;
  idsOfA.subnets = (await created('/v1/subnets', { vpcId: vpc.id, name: 'a', cidrBlock: '10.0.1.0/24' })).id;
  idsOfA['network-interfaces'] = (
    await created('/v1/network-interfaces', { subnetId: idsOfA.subnets, name: 'a', primaryIp: '10.0.1.5' })
  ).id;
  idsOfA.logsets = (await created('/v1/logsets', { name: 'a' })).id;
  idsOfA['log-topics'] = (await created('/v1/log-topics', { logsetId: idsOfA.logsets, name: 'a' })).id;
  idsOfA['flow-logs'] = (
    await created('/v1/flow-logs', {
      name: 'a',
      resourceType: 'NETWORKINTERFACE',
      resourceId: idsOfA['network-interfaces'],
      trafficType: 'ALL',
      logTopicId: idsOfA['log-topics'],
    })
  ).id;
  idsOfA['api-keys'] = (await created('/v1/api-keys', { role: 'readonly', name: 'a' })).id;

  keyB = (await created('/v1/accounts', { name: 'b' })).adminKey;
  const vpcB = await created('/v1/vpcs', { name: 'b', cidrBlock: '10.0.0.0/16' }, keyB);
  subnetB = (await created('/v1/subnets', { vpcId: vpcB.id, name: 'b', cidrBlock: '10.0.1.0/24' }, keyB)).id;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** What A would send to create or change something in each collection: every id in it is A's. */
function bodyFor(method: string, collection: string): unknown {
  if (method === 'PATCH') return { name: 'renamed-by-b' };
  if (method === 'PUT') return { subnetId: subnetB, name: 'b', primaryIp: '10.0.1.5' }; // B's own subnet: only the id is A's
  const bodies: Record<string, unknown> = {
    vpcs: { name: 'b2', cidrBlock: '10.1.0.0/16' },
    subnets: { vpcId: idsOfA.vpcs, name: 'b2', cidrBlock: '10.0.2.0/24' },
    'network-interfaces': { subnetId: idsOfA.subnets, name: 'b2', primaryIp: '10.0.1.6' },
    logsets: { name: 'b2' },
    'log-topics': { logsetId: idsOfA.logsets, name: 'b2' },
    'flow-logs': {
      name: 'b2',
      resourceType: 'VPC',
      resourceId: idsOfA.vpcs,
      trafficType: 'ALL',
      logTopicId: idsOfA['log-topics'],
    },
    'api-keys': { role: 'readonly' },
    accounts: { name: 'b2' },
  };
  return bodies[collection];
}

const mentionsA = (res: ApiResponse) =>
  [accountA, ...Object.values(idsOfA)].filter((id) => JSON.stringify(res.body).includes(id));

describe('account isolation', () => {
  it('holds on every /v1 route of the OpenAPI document', async () => {
    const doc = (await stack.api('GET', '/openapi.json', undefined, null)).body;
    const operations = Object.entries(doc.paths as Record<string, Record<string, { requestBody?: unknown }>>)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, ops]) =>
        Object.entries(ops).map(([method, op]) => ({
          method: method.toUpperCase(),
          path,
          hasBody: op.requestBody !== undefined,
        })),
      );
    expect(operations.length).toBeGreaterThan(30);

    for (const { method, path, hasBody } of operations) {
      const collection = path.split('/')[2];
      const what = `${method} ${path}`;
      const body = hasBody || ['POST', 'PUT', 'PATCH'].includes(method) ? bodyFor(method, collection) : undefined;
      if (path.includes('{id}')) {
        const id = idsOfA[collection];
        expect(id, `${what}: which of A's ids goes in it?`).toBeDefined();
        const res = await asB(method, path.replace('{id}', id), body);
        if (method === 'PUT') {
          // Agents register ENIs under ids of their own choosing, and ids are per account: B registers its own ENI of
          // that id, exactly as if A had none (then deletes it again, so the other routes find only A's).
          expect(res, `${what}: ${JSON.stringify(res.body)}`).toMatchObject({
            status: 201,
            body: { id, subnetId: subnetB },
          });
          expect(mentionsA({ ...res, body: { ...res.body, id: '' } }), what).toEqual([]);
          expect((await asB('DELETE', path.replace('{id}', id))).status, what).toBe(204);
          continue;
        } else {
          expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(404);
        }
        expect(mentionsA({ ...res, body: res.body?.message?.replace(id, '') }), what).toEqual([]);
        continue;
      }
      const res = await asB(method, path, body);
      if (body !== undefined && mentionsA({ status: 0, body }).length) {
        expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(404); // a body naming A's resource
      } else {
        expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
        expect(mentionsA(res), what).toEqual([]);
        if (method === 'GET' && Array.isArray(res.body?.items)) expect(res.status, what).toBe(200);
      }
    }
  }, 120_000);

  it("left A's resources as they were", async () => {
    for (const [collection, id] of Object.entries(idsOfA)) {
      const res = await stack.api('GET', `/v1/${collection}/${id}`);
      expect(res, collection).toMatchObject({ status: 200, body: { id, name: 'a' } });
    }
    expect((await stack.api('GET', `/v1/flow-logs/${idsOfA['flow-logs']}`)).body).toMatchObject({
      enabled: true,
      revision: 1,
    });
  });
});
