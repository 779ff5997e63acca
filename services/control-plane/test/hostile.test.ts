/**
 * What a new user's hostile requests found (issue 14): NUL bytes, error shapes of the server's own refusals,
 * the sort orders, the search by POST, duplicate tag keys.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '@flowlogs/contracts';
import { makeRecord } from '@flowlogs/testkit';
import { hashApiKey } from '../src/api-key.js';
import { ADMIN_KEY, insertRecords, startControlPlane, type TestControlPlane } from './support.js';

const READONLY_KEY = 'test-hostile-readonly-0123456789';
let t: TestControlPlane;
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await startControlPlane();
  const created = async (path: string, body: unknown) => {
    const res = await t.api('POST', path, body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; accountId: string };
  };
  const vpc = await created('/v1/vpcs', { name: 'v', cidrBlock: '10.0.0.0/16' });
  ids.account = vpc.accountId;
  ids.vpc = vpc.id;
  ids.subnet = (await created('/v1/subnets', { vpcId: vpc.id, name: 's', cidrBlock: '10.0.1.0/24' })).id;
  ids.eni = (await created('/v1/network-interfaces', { subnetId: ids.subnet, name: 'e', primaryIp: '10.0.1.5' })).id;
  ids.logset = (await created('/v1/logsets', { name: 'l' })).id;
  ids.topic = (await created('/v1/log-topics', { logsetId: ids.logset, name: 't' })).id;
  await t.db.pool.query(
    "INSERT INTO api_keys (id, account_id, key_hash, role) VALUES ('key-hostile-ro', $1, $2, 'readonly')",
    [ids.account, hashApiKey(READONLY_KEY)],
  );
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

/** The documented error shape, and nothing else: no statusCode, no Fastify code. */
function expectErrorShape(body: unknown, status: number, what: string): void {
  expect(
    Object.keys(body as object)
      .filter((k) => k !== 'issues')
      .sort(),
    `${what}: ${JSON.stringify(body)}`,
  ).toEqual(['error', 'message']);
  const { error, message } = body as { error: string; message: string };
  expect(error, what).toBe(
    { 400: 'Bad Request', 413: 'Payload Too Large', 414: 'URI Too Long', 431: 'Request Header Fields Too Large' }[
      status
    ],
  );
  expect(message, what).not.toMatch(/FST_/);
}

/** A raw request (fetch refuses some of these before sending). */
function rawRequest(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const url = new URL(path, t.cp.url);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'GET', headers: { authorization: `Bearer ${ADMIN_KEY}`, ...headers } },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('a NUL byte', () => {
  it('is a 400 naming the field, wherever it is: bodies, query strings, path ids, GETs included', async () => {
    const probes: [string, string, unknown, string][] = [
      ['POST', '/v1/vpcs', { name: 'a\u0000b', cidrBlock: '10.1.0.0/16' }, 'name'],
      [
        'POST',
        '/v1/flow-logs',
        {
          name: 'f',
          resourceType: 'VPC',
          resourceId: ids.vpc,
          trafficType: 'ALL',
          logTopicId: ids.topic,
          tags: [{ key: 'k', value: 'v\u0000' }],
        },
        'tags.0.value',
      ],
      ['POST', '/v1/logsets', { 'na\u0000me': 'x' }, 'na\u0000me'],
      ['PATCH', `/v1/logsets/${ids.logset}`, { name: '\u0000' }, 'name'],
      ['GET', '/v1/vpcs?name=a%00', undefined, 'name'],
      ['GET', `/v1/log-topics/${ids.topic}/records?q=srcaddr%3A10.0.0.1%00`, undefined, 'q'],
      ['GET', `/v1/log-topics/${ids.topic}/analysis/top?q=%00`, undefined, 'q'],
      ['GET', '/v1/vpcs/vpc-%00', undefined, 'id'],
      ['DELETE', '/v1/subnets/%00', undefined, 'id'],
      ['PUT', '/v1/network-interfaces/eni-1%00', { subnetId: ids.subnet, name: 'x', primaryIp: '10.0.1.9' }, 'id'],
    ];
    for (const [method, path, body, field] of probes) {
      const res = await t.api(method, path, body);
      const what = `${method} ${path}`;
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(400);
      expectErrorShape(res.body, 400, what);
      expect(res.body.issues, what).toEqual([
        { path: field, message: 'contains a NUL byte (\\u0000), which is not allowed' },
      ]);
    }
    expect((await t.api('GET', '/v1/vpcs?name=%00', undefined, READONLY_KEY)).status).toBe(400);
  });
});

describe('error bodies', () => {
  it("have the shape {error, message, issues?} for the server's own refusals too: 413, 414, 431", async () => {
    const tooLarge = await t.api(
      'POST',
      '/v1/vpcs',
      JSON.stringify({ name: 'x'.repeat(1_100_000), cidrBlock: '10.1.0.0/16' }),
    );
    expect(tooLarge.status).toBe(413);
    expectErrorShape(tooLarge.body, 413, '413');

    const longId = await t.api('GET', `/v1/vpcs/vpc-${'a'.repeat(200)}`);
    expect(longId.status).toBe(414);
    expectErrorShape(longId.body, 414, '414');
    expect(longId.body.message).toBe('a path parameter is longer than 100 characters');

    const longQuery = await rawRequest(`/v1/log-topics/${ids.topic}/records?q=${'10.0.0.1 OR '.repeat(2000)}10.0.0.2`);
    expect(longQuery.status).toBe(431);
    expectErrorShape(longQuery.body, 431, '431');
    expect((longQuery.body as { message: string }).message).toMatch(/POST \/v1\/log-topics\/:id\/records\/search$/);

    const badPercent = await rawRequest('/v1/vpcs/%E0%A4%A');
    expect(badPercent.status).toBe(400);
    expectErrorShape(badPercent.body, 400, 'bad percent-encoding');
  });

  it("name each field once, with the schema's own bound rather than the safe-integer one", async () => {
    const res = await t.api('GET', '/v1/vpcs?limit=1e20');
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([{ path: 'limit', message: 'Too big: expected number to be <=1000' }]);
    expect(res.body.message).toBe('limit: Too big: expected number to be <=1000');
    const small = await t.api('GET', `/v1/log-topics/${ids.topic}/records?limit=-1e30`);
    expect(small.body.issues).toEqual([{ path: 'limit', message: 'Too small: expected number to be >=1' }]);
  });
});

describe('tags', () => {
  it('refuse a key given twice', async () => {
    const body = {
      name: 'dup',
      resourceType: 'VPC',
      resourceId: ids.vpc,
      trafficType: 'ALL',
      logTopicId: ids.topic,
      tags: [
        { key: 'env', value: 'a' },
        { key: 'team', value: 'b' },
        { key: 'env', value: 'c' },
      ],
    };
    const res = await t.api('POST', '/v1/flow-logs', body);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.issues).toEqual([{ path: 'tags.2.key', message: 'tag key "env" is given twice' }]);
    expect((await t.api('GET', '/v1/flow-logs?name=dup')).body.items).toEqual([]);
  });
});

describe('record search', () => {
  const base = 1_700_000_400; // a multiple of 600
  /** One record; `start` null makes a NODATA record of the window. */
  const record = (
    i: number,
    windowStart: number,
    start: number | null,
    bytes: number | null,
    packets: number | null,
  ): FlowRecord =>
    makeRecord({
      accountId: ids.account,
      interfaceId: ids.eni,
      vpcId: ids.vpc,
      subnetId: ids.subnet,
      windowStart,
      windowEnd: windowStart + 600,
      flowLogId: 'fl-sort',
      logTopicId: ids.topic,
      packets,
      bytes,
      start,
      ...(start !== null
        ? {
            srcaddr: `10.0.1.${i}`,
            dstaddr: '192.0.2.1',
            srcport: 443,
            dstport: 50_000,
            end: start + 1,
            tcpFlags: null,
          }
        : { logStatus: 'NODATA' as const }),
    });
  // Ties on every key: two starts of base+50, bytes 100 twice and 300 twice, packets 1, 2 and 5 twice each;
  // the NODATA record sorts by its window's start (a tie with record 5) and as 0 bytes and packets.
  let records: FlowRecord[] = [];
  const makeRecords = () => [
    record(1, base, base + 50, 100, 2),
    record(2, base, base + 10, 300, 2),
    record(3, base, base + 50, 100, 1),
    record(4, base, base + 30, 200, 5),
    record(5, base + 600, base + 600, 300, 5),
    record(6, base + 600, null, null, null),
    record(7, base + 600, base + 610, 50, 1),
  ];
  const keyOf = {
    start: (r: FlowRecord) => r.start ?? r.windowStart,
    bytes: (r: FlowRecord) => r.bytes ?? 0,
    packets: (r: FlowRecord) => r.packets ?? 0,
  };
  /** The order the API promises: by the key, then by record id; `-` reverses both. */
  const sorted = (sort: string) => {
    const key = keyOf[sort.replace('-', '') as keyof typeof keyOf];
    const asc = [...records].sort((a, b) => key(a) - key(b) || (a.recordId < b.recordId ? -1 : 1));
    return sort.startsWith('-') ? asc.reverse() : asc;
  };

  beforeAll(async () => {
    records = makeRecords();
    await insertRecords(t.db, records);
  });

  const range = { from: base, to: base + 1200 };
  const page = async (query: Record<string, string | number>, how: 'GET' | 'POST' = 'GET', key = ADMIN_KEY) => {
    const res =
      how === 'GET'
        ? await t.api(
            'GET',
            `/v1/log-topics/${ids.topic}/records?${new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]))}`,
            undefined,
            key,
          )
        : await t.api('POST', `/v1/log-topics/${ids.topic}/records/search`, query, key);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { records: FlowRecord[]; nextCursor: string | null };
  };
  const allPages = async (query: Record<string, string | number>, how: 'GET' | 'POST' = 'GET') => {
    const pages: FlowRecord[][] = [];
    let cursor: string | null = null;
    do {
      const p = await page({ ...query, ...(cursor ? { cursor } : {}) }, how);
      pages.push(p.records);
      cursor = p.nextCursor;
    } while (cursor);
    return pages;
  };
  const idsOf = (rs: FlowRecord[]) => rs.map((r) => r.recordId);

  it('sorts by every key both ways, ties by record id, the same in one page and in pages of two', async () => {
    for (const sort of ['start', '-start', 'bytes', '-bytes', 'packets', '-packets']) {
      const expected = idsOf(sorted(sort));
      expect(idsOf((await page({ ...range, sort })).records), sort).toEqual(expected);
      const pages = await allPages({ ...range, sort, limit: 2 });
      expect(
        pages.map((p) => p.length),
        sort,
      ).toEqual([2, 2, 2, 1]);
      expect(idsOf(pages.flat()), `${sort} in pages`).toEqual(expected);
    }
    // The default is start, and -start is exactly its reverse.
    expect(idsOf((await page(range)).records)).toEqual(idsOf(sorted('start')));
    expect(idsOf((await page({ ...range, sort: '-start' })).records)).toEqual(idsOf(sorted('start')).reverse());
    expect((await page(range)).records.map((r) => r.start ?? r.windowStart)).toEqual([
      base + 10,
      base + 30,
      base + 50,
      base + 50,
      base + 600,
      base + 600,
      base + 610,
    ]);
  });

  it('takes the same search as a POST body, for a query too long for a URL; read-only keys may use it', async () => {
    const q = `${Array.from({ length: 1500 }, (_, i) => `10.9.${i >> 8}.${i & 255}`).join(' OR ')} OR 10.0.1.4 OR 10.0.1.7`;
    expect(q.length).toBeGreaterThan(16_384);
    const pages = await allPages({ ...range, q, sort: '-bytes', limit: 1 }, 'POST');
    expect(idsOf(pages.flat())).toEqual(
      idsOf(sorted('-bytes').filter((r) => r.srcaddr === '10.0.1.4' || r.srcaddr === '10.0.1.7')),
    );
    expect(idsOf((await page({ ...range, sort: 'packets' }, 'POST', READONLY_KEY)).records)).toEqual(
      idsOf(sorted('packets')),
    );
    const bad = await t.api('POST', `/v1/log-topics/${ids.topic}/records/search`, {
      from: 'x',
      sort: 'size',
      extra: 1,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.issues.map((i: { path: string }) => i.path).sort()).toEqual(['body', 'from', 'sort']);
    const csv = await t.api('POST', `/v1/log-topics/${ids.topic}/records/search`, { ...range, format: 'csv' });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.body.trim().split('\n')).toHaveLength(records.length + 1);
    const doc = (await t.api('GET', '/openapi.json', undefined, null)).body;
    const post = doc.paths['/v1/log-topics/{id}/records/search'].post;
    expect(Object.keys(post.requestBody.content['application/json'].schema.properties)).toEqual([
      'from',
      'to',
      'q',
      'sort',
      'limit',
      'cursor',
      'format',
    ]);
    expect(Object.keys(post.responses)).not.toContain('403');
  });
});
