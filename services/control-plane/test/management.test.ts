import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type TestControlPlane } from './support.js';

let t: TestControlPlane;
beforeAll(async () => {
  t = await startControlPlane();
});
afterAll(async () => {
  await t?.stop();
});

const api = (method: string, path: string, body?: unknown, key?: string | null) => t.api(method, path, body, key);
const created = async (path: string, body: unknown, key?: string) => {
  const res = await api('POST', path, body, key);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
};

describe('accounts and API keys', () => {
  it('lets the operator create accounts, each with a first admin key', async () => {
    const account = await created('/v1/accounts', { name: 'tenant-a' });
    expect(account).toMatchObject({
      id: expect.stringMatching(/^\d{12}$/),
      name: 'tenant-a',
      adminKey: expect.stringMatching(/^flk_/),
    });
    expect((await api('GET', '/v1/account', undefined, account.adminKey)).body).toEqual({
      id: account.id,
      name: 'tenant-a',
      createdAt: expect.any(String),
      role: 'admin',
    });
    // Another account's admin may not.
    expect(await api('POST', '/v1/accounts', { name: 'x' }, account.adminKey)).toMatchObject({
      status: 403,
      body: { message: expect.stringContaining('operator') },
    });
  });

  it('creates keys shown once, lists them without key material, and keeps the last admin key', async () => {
    const { adminKey } = await created('/v1/accounts', { name: 'tenant-b' });
    const [first] = (await api('GET', '/v1/api-keys', undefined, adminKey)).body.items;
    const readonly = await created('/v1/api-keys', { role: 'readonly', name: 'grafana' }, adminKey);
    expect(readonly).toMatchObject({
      id: expect.stringMatching(/^key-/),
      role: 'readonly',
      name: 'grafana',
      key: expect.stringMatching(/^flk_/),
    });
    expect(await api('POST', '/v1/vpcs', { name: 'v', cidrBlock: '10.0.0.0/16' }, readonly.key)).toMatchObject({
      status: 403,
    });
    // The caller's role, which the console hides write actions by.
    expect((await api('GET', '/v1/account', undefined, readonly.key)).body).toMatchObject({
      name: 'tenant-b',
      role: 'readonly',
    });
    expect(await api('POST', '/v1/api-keys', { role: 'admin' }, readonly.key)).toMatchObject({ status: 403 });

    const listed = (await api('GET', '/v1/api-keys', undefined, adminKey)).body.items;
    expect(listed.map((k: { id: string }) => k.id)).toEqual([first.id, readonly.id]);
    expect(JSON.stringify(listed)).not.toMatch(/flk_|hash/);

    expect(await api('DELETE', `/v1/api-keys/${first.id}`, undefined, adminKey)).toMatchObject({
      status: 409,
      body: { message: expect.stringContaining('last admin key') },
    });
    const second = await created('/v1/api-keys', { role: 'admin' }, adminKey);
    expect((await api('DELETE', `/v1/api-keys/${first.id}`, undefined, second.key)).status).toBe(204);
    expect((await api('GET', '/v1/vpcs', undefined, adminKey)).status).toBe(401);
    expect(await api('POST', '/v1/api-keys', { role: 'owner' }, second.key)).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^role: /) },
    });
  });
});

describe('resources', () => {
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    ids.vpc = (await created('/v1/vpcs', { name: 'main', cidrBlock: '10.0.0.0/16' })).id;
    ids.subnet = (await created('/v1/subnets', { vpcId: ids.vpc, name: 'web', cidrBlock: '10.0.1.0/24' })).id;
    ids.eni = (
      await created('/v1/network-interfaces', { subnetId: ids.subnet, name: 'web-1', primaryIp: '10.0.1.5' })
    ).id;
    ids.logset = (await created('/v1/logsets', { name: 'prod' })).id;
    ids.topic = (
      await created('/v1/log-topics', {
        logsetId: ids.logset,
        name: 'flows',
        format: { custom: ['srcaddr', 'dstaddr', 'bytes'] },
      })
    ).id;
  });

  it('refuses duplicate names per account and kind, and a taken address in a subnet', async () => {
    expect(await api('POST', '/v1/vpcs', { name: 'main', cidrBlock: '10.1.0.0/16' })).toMatchObject({
      status: 409,
      body: { message: 'name: a VPC named "main" exists already' },
    });
    expect((await api('POST', '/v1/subnets', { vpcId: ids.vpc, name: 'main', cidrBlock: '10.0.2.0/24' })).status).toBe(
      201,
    ); // another kind
    const ip = await api('POST', '/v1/network-interfaces', {
      subnetId: ids.subnet,
      name: 'web-2',
      primaryIp: '10.0.1.5',
    });
    expect(ip).toMatchObject({
      status: 409,
      body: { message: `primaryIp: 10.0.1.5 is network interface ${ids.eni}'s in subnet ${ids.subnet}` },
    });
    expect((await api('PATCH', `/v1/logsets/${ids.logset}`, { name: 'prod' })).status).toBe(200); // its own name
  });

  it('keeps what others depend on: 409 naming the dependent', async () => {
    expect(await api('DELETE', `/v1/vpcs/${ids.vpc}`)).toMatchObject({
      status: 409,
      body: { message: expect.stringMatching(/^VPC vpc-\w+ is in use by subnet subnet-/) },
    });
    expect((await api('DELETE', `/v1/subnets/${ids.subnet}`)).status).toBe(409);
    expect(await api('DELETE', `/v1/logsets/${ids.logset}`)).toMatchObject({
      status: 409,
      body: { message: expect.stringContaining(`log topic ${ids.topic}`) },
    });
    const fl = await created('/v1/flow-logs', {
      name: 'eni',
      resourceType: 'NETWORKINTERFACE',
      resourceId: ids.eni,
      trafficType: 'ALL',
      logTopicId: ids.topic,
    });
    expect((await api('DELETE', `/v1/network-interfaces/${ids.eni}`)).body.message).toContain(`flow log ${fl.id}`);
    expect((await api('DELETE', `/v1/log-topics/${ids.topic}`)).status).toBe(409);
    expect((await api('DELETE', `/v1/flow-logs/${fl.id}`)).status).toBe(204);
    expect((await api('DELETE', `/v1/flow-logs/${fl.id}`)).status).toBe(404);

    // Children first, then the parents go.
    const vpc = await created('/v1/vpcs', { name: 'temp', cidrBlock: '10.9.0.0/16' });
    const subnet = await created('/v1/subnets', { vpcId: vpc.id, name: 'temp', cidrBlock: '10.9.0.0/24' });
    for (const path of [`/v1/subnets/${subnet.id}`, `/v1/vpcs/${vpc.id}`])
      expect((await api('DELETE', path)).status).toBe(204);
    expect((await api('GET', `/v1/vpcs/${vpc.id}`)).status).toBe(404);
  });

  it('modifies logsets and log topics, formats included', async () => {
    expect(await api('PATCH', `/v1/logsets/${ids.logset}`, { retentionDays: 30 })).toMatchObject({
      status: 200,
      body: { retentionDays: 30, name: 'prod' },
    });
    expect((await api('GET', `/v1/log-topics/${ids.topic}`)).body.format).toEqual({
      custom: ['srcaddr', 'dstaddr', 'bytes'],
    });
    expect((await api('PATCH', `/v1/log-topics/${ids.topic}`, { format: 'text' })).body.format).toBe('text');
    const bad = await api('PATCH', `/v1/log-topics/${ids.topic}`, { format: { custom: ['srcaddr', 'port'] } });
    expect(bad).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^format: custom\.1: /) } });
    expect(await api('PATCH', `/v1/logsets/${ids.logset}`, {})).toMatchObject({
      status: 400,
      body: { message: 'body: name, retentionDays: give at least one' },
    });
    expect((await api('PATCH', '/v1/logsets/logset-nope', { name: 'x' })).status).toBe(404);
  });

  it('lists flow logs by filter, page by page', async () => {
    const make = (name: string, resourceId: string, tags: { key: string; value: string }[]) =>
      created('/v1/flow-logs', {
        name,
        resourceType: resourceId.startsWith('eni') ? 'NETWORKINTERFACE' : 'VPC',
        resourceId,
        trafficType: 'ALL',
        logTopicId: ids.topic,
        tags,
      });
    const made = [
      await make('a', ids.eni, [{ key: 'env', value: 'prod' }]),
      await make('b', ids.vpc, [{ key: 'env', value: 'dev' }]),
      await make('c', ids.eni, [
        { key: 'env', value: 'prod' },
        { key: 'team', value: 'net' },
      ]),
    ];
    await api('POST', `/v1/flow-logs/${made[2].id}/disable`);
    const names = async (query: string) => {
      const res = await api('GET', `/v1/flow-logs?${query}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.items.map((f: { name: string }) => f.name);
    };
    expect(await names('')).toEqual(['a', 'b', 'c']);
    expect(await names('name=b')).toEqual(['b']);
    expect(await names(`resourceId=${ids.eni}`)).toEqual(['a', 'c']);
    expect(await names('tag=env:prod')).toEqual(['a', 'c']);
    expect(await names('tag=team:net&enabled=false')).toEqual(['c']);
    expect(await names('enabled=true')).toEqual(['a', 'b']);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { name: string }[]; nextCursor: string | null } = (
        await api('GET', `/v1/flow-logs?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      ).body;
      seen.push(...page.items.map((f) => f.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['a', 'b', 'c']);

    expect((await api('GET', '/v1/flow-logs?tag=env')).body.message).toMatch(/^tag: expected key:value/);
    expect((await api('GET', '/v1/flow-logs?cursor=nonsense')).body.message).toMatch(/^cursor: not a cursor/);
    expect((await api('GET', '/v1/flow-logs?limit=0')).status).toBe(400);
    expect((await api('GET', '/v1/vpcs?colour=red')).status).toBe(400);
  });

  it('keeps every revision of a flow log, newest first', async () => {
    const fl = await created('/v1/flow-logs', {
      name: 'audited',
      resourceType: 'VPC',
      resourceId: ids.vpc,
      trafficType: 'ALL',
      logTopicId: ids.topic,
    });
    expect(fl.description).toBe('');
    expect(
      (await api('PATCH', `/v1/flow-logs/${fl.id}`, { description: 'who talks to the DB', trafficType: 'REJECT' }))
        .body,
    ).toMatchObject({ revision: 2, description: 'who talks to the DB' });
    await api('POST', `/v1/flow-logs/${fl.id}/disable`);
    await api('POST', `/v1/flow-logs/${fl.id}/enable`);
    const { items } = (await api('GET', `/v1/flow-logs/${fl.id}/revisions`)).body;
    expect(items.map((r: { revision: number }) => r.revision)).toEqual([4, 3, 2, 1]);
    expect(
      items.map((r: { flowLog: { enabled: boolean; trafficType: string } }) => [
        r.flowLog.enabled,
        r.flowLog.trafficType,
      ]),
    ).toEqual([
      [true, 'REJECT'],
      [false, 'REJECT'],
      [true, 'REJECT'],
      [true, 'ALL'],
    ]);
    expect(items[0].flowLog).toEqual((await api('GET', `/v1/flow-logs/${fl.id}`)).body);
    // A change that fails (a name in use) leaves no revision behind.
    expect((await api('PATCH', `/v1/flow-logs/${fl.id}`, { name: 'a' })).status).toBe(409);
    expect((await api('GET', `/v1/flow-logs/${fl.id}/revisions`)).body.items).toHaveLength(4);
  });
});

describe('the rate limit', () => {
  it('answers 429 with Retry-After past FLOWLOGS_RATE_LIMIT requests a minute per key, never on health or metrics', async () => {
    const limited = await startControlPlane({ FLOWLOGS_RATE_LIMIT: '3' });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await limited.api('GET', '/v1/vpcs')).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const res = await limited.api('GET', '/v1/vpcs');
      expect(res).toMatchObject({
        status: 429,
        body: { error: 'Too Many Requests', message: expect.stringContaining('3 requests a minute') },
      });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await limited.api('GET', '/v1/vpcs', undefined, 'another-key')).status).toBe(401); // its own budget
      for (let i = 0; i < 5; i++) expect((await limited.api('GET', '/healthz', undefined, null)).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});
