/** PUT /v1/network-interfaces/:id: how a capture agent registers the ENI it owns, idempotently. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { startStack, type Stack } from './support/stack.js';

/** API keys are stored as their sha256, as the control plane looks them up. */
const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

const OTHER_KEY = 'test-other-key-0123456789';

describe('ENI registration', () => {
  let stack: Stack;
  let api: Stack['api'];
  let subnetId: string;
  let vpcId: string;
  let otherSubnetId: string;

  beforeAll(async () => {
    stack = await startStack();
    api = stack.api;
    await stack.db.pool.query("INSERT INTO accounts (id, name) VALUES ('222222222222', 'other')");
    await stack.db.pool.query(
      "INSERT INTO api_keys (id, account_id, key_hash, role) VALUES ('key-other', '222222222222', $1, 'admin')",
      [hashApiKey(OTHER_KEY)],
    );
    vpcId = (await api('POST', '/v1/vpcs', { name: 'prod', cidrBlock: '10.16.0.0/16' })).body.id;
    subnetId = (await api('POST', '/v1/subnets', { vpcId, name: 'a', cidrBlock: '10.16.0.0/24' })).body.id;
    const otherVpc = (await api('POST', '/v1/vpcs', { name: 'theirs', cidrBlock: '10.16.0.0/16' }, OTHER_KEY)).body.id;
    otherSubnetId = (
      await api('POST', '/v1/subnets', { vpcId: otherVpc, name: 'b', cidrBlock: '10.16.0.0/24' }, OTHER_KEY)
    ).body.id;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('creates the ENI under the given id, then answers the same one', async () => {
    const body = { subnetId, name: 'cvm-a', primaryIp: '10.16.0.22' };
    const created = await api('PUT', '/v1/network-interfaces/eni-agent1', body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'eni-agent1', vpcId, subnetId, name: 'cvm-a', primaryIp: '10.16.0.22' });
    const again = await api('PUT', '/v1/network-interfaces/eni-agent1', { ...body, name: 'renamed' });
    expect(again).toEqual({ status: 200, body: created.body });
    expect((await api('GET', '/v1/network-interfaces/eni-agent1')).body).toEqual(created.body);
  });

  it('creates one ENI when agents register at the same time', async () => {
    const body = { subnetId, name: 'cvm-c', primaryIp: '10.16.0.30' };
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => api('PUT', '/v1/network-interfaces/eni-race', body)),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
  });

  it('answers 409 when the ENI exists with another subnet or address', async () => {
    const subnetB = (await api('POST', '/v1/subnets', { vpcId, name: 'b', cidrBlock: '10.16.1.0/24' })).body.id;
    await api('PUT', '/v1/network-interfaces/eni-agent2', { subnetId, name: 'x', primaryIp: '10.16.0.23' });
    const ip = await api('PUT', '/v1/network-interfaces/eni-agent2', { subnetId, name: 'x', primaryIp: '10.16.0.24' });
    expect(ip.status).toBe(409);
    expect(ip.body.message).toMatch(/10\.16\.0\.23/);
    expect(
      (await api('PUT', '/v1/network-interfaces/eni-agent2', { subnetId: subnetB, name: 'x', primaryIp: '10.16.1.23' }))
        .status,
    ).toBe(409);
  });

  it('records the agent that registers the ENI, and when; none for one registered without', async () => {
    const body = { subnetId, name: 'cvm-d', primaryIp: '10.16.0.31' };
    const plain = await api('PUT', '/v1/network-interfaces/eni-agent3', body);
    expect(plain.body).toMatchObject({ agentId: null, registeredAt: null });
    const before = Date.now();
    const first = await api('PUT', '/v1/network-interfaces/eni-agent3', { ...body, agentId: 'host-a' });
    expect(first.status).toBe(200);
    expect(first.body.agentId).toBe('host-a');
    expect(Date.parse(first.body.registeredAt)).toBeGreaterThanOrEqual(before - 1000);
    const moved = await api('PUT', '/v1/network-interfaces/eni-agent3', { ...body, agentId: 'host-b' });
    expect(moved.body).toMatchObject({ agentId: 'host-b' });
    expect(Date.parse(moved.body.registeredAt)).toBeGreaterThanOrEqual(Date.parse(first.body.registeredAt));
    expect((await api('GET', '/v1/network-interfaces/eni-agent3')).body).toEqual(moved.body);
    const created = await api('PUT', '/v1/network-interfaces/eni-agent4', {
      subnetId,
      name: 'cvm-e',
      primaryIp: '10.16.0.32',
      agentId: 'host-a',
    });
    expect(created.status).toBe(201);
    expect(created.body.agentId).toBe('host-a');
    expect((await api('PUT', '/v1/network-interfaces/eni-agent4', { ...body, agentId: '' })).body.message).toMatch(
      /^agentId: /,
    );
    // POST (by hand) takes no agent.
    expect(
      (await api('POST', '/v1/network-interfaces', { ...body, primaryIp: '10.16.0.33', agentId: 'x' })).status,
    ).toBe(400);
  });

  it("answers an ENI's activity from its records: nothing yet, and 404 for another account's", async () => {
    expect(await api('GET', '/v1/network-interfaces/eni-agent1/activity')).toEqual({
      status: 200,
      body: { lastSeenAt: null, lastTrafficAt: null },
    });
    expect((await api('GET', '/v1/network-interfaces/eni-agent1/activity', undefined, OTHER_KEY)).status).toBe(404);
  });

  it('validates the id, the body and the address', async () => {
    for (const id of ['eni_1', 'ENI-1', 'vpc-1', 'eni-']) {
      const res = await api('PUT', `/v1/network-interfaces/${id}`, { subnetId, name: 'x', primaryIp: '10.16.0.5' });
      expect(res.status, id).toBe(400);
      expect(res.body.message).toMatch(/^id: /);
    }
    expect((await api('PUT', '/v1/network-interfaces/eni-b1', { subnetId, name: 'x' })).body.message).toMatch(
      /primaryIp/,
    );
    const outside = await api('PUT', '/v1/network-interfaces/eni-b2', { subnetId, name: 'x', primaryIp: '10.17.0.5' });
    expect(outside.status).toBe(400);
    expect(outside.body.message).toMatch(/^primaryIp: 10\.17\.0\.5 is not inside subnet/);
  });

  it("keeps accounts apart: another account's subnet is 404, and an ENI id is each account's own", async () => {
    const foreign = await api('PUT', '/v1/network-interfaces/eni-b3', {
      subnetId: otherSubnetId,
      name: 'x',
      primaryIp: '10.16.0.5',
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body.message).toMatch(/^subnetId: subnet .* not found/);
    // The other account learns nothing of this one's eni-agent1: it registers its own, as if the id were unused.
    const mine = (await api('GET', '/v1/network-interfaces/eni-agent1')).body;
    const theirs = await api(
      'PUT',
      '/v1/network-interfaces/eni-agent1',
      { subnetId: otherSubnetId, name: 'x', primaryIp: '10.16.0.22' },
      OTHER_KEY,
    );
    expect(theirs).toMatchObject({
      status: 201,
      body: { id: 'eni-agent1', accountId: '222222222222', subnetId: otherSubnetId },
    });
    expect(
      (
        await api(
          'PUT',
          '/v1/network-interfaces/eni-agent1',
          { subnetId: otherSubnetId, name: 'x', primaryIp: '10.16.0.22' },
          OTHER_KEY,
        )
      ).status,
    ).toBe(200);
    expect((await api('GET', '/v1/network-interfaces/eni-agent1', undefined, OTHER_KEY)).body).toMatchObject({
      accountId: '222222222222',
    });
    expect((await api('DELETE', '/v1/network-interfaces/eni-agent1', undefined, OTHER_KEY)).status).toBe(204);
    expect((await api('GET', '/v1/network-interfaces/eni-agent1')).body).toEqual(mine);
  });
});
