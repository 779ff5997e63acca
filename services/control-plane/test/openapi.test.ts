import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { topicNames } from '@flowlogs/contracts';
import { testLogger } from '@flowlogs/testkit';
import { createMetrics } from '../src/metrics.js';
import type { ApiContext } from '../src/routes/context.js';
import { buildServer } from '../src/server.js';

// Registering routes needs none of the context's clients.
const registry = new Registry();
const app = buildServer({
  log: testLogger(),
  registry,
  metrics: createMetrics(registry),
  ready: async () => true,
  api: { topics: topicNames('t'), rateLimit: 10 } as ApiContext,
});
const registered: string[] = [];
app.addHook('onRoute', (r) => {
  for (const m of [r.method].flat())
    if (m !== 'HEAD' && r.url.startsWith('/v1/')) registered.push(`${m} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
});
let doc: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- the document as JSON

beforeAll(async () => {
  await app.ready();
  doc = (await app.inject('/openapi.json')).json();
});
afterAll(() => app.close());

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops as object).map(([m, op]) => ({ key: `${m.toUpperCase()} ${path}`, op })),
  );

describe('the OpenAPI document', () => {
  it('has every /v1 route, each described', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(registered.length).toBeGreaterThan(30);
    const keys = operations().map((o) => o.key);
    for (const route of registered) expect(keys, route).toContain(route);
    expect(
      operations()
        .filter((o) => o.op['x-undocumented'])
        .map((o) => o.key),
    ).toEqual([]);
  });

  it('says how to authenticate and what errors look like', () => {
    expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.components.schemas.Error.required).toEqual(['error', 'message']);
    for (const { key, op } of operations().filter((o) => o.key.includes(' /v1/') && !o.op['x-undocumented'])) {
      expect(Object.keys(op.responses), key).toEqual(expect.arrayContaining(['401', '429']));
      expect(op.responses['401'].content['application/json'].schema, key).toEqual({
        $ref: '#/components/schemas/Error',
      });
    }
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });

  it('describes parameters, bodies and answers from the zod schemas', () => {
    const createTopic = doc.paths['/v1/log-topics'].post;
    const body = createTopic.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['logsetId', 'name']);
    expect(JSON.stringify(body.properties.format)).toContain('"srcaddr"');
    expect(Object.keys(createTopic.responses)).toEqual(expect.arrayContaining(['201', '400', '404', '409']));
    expect(createTopic.responses['201'].content['application/json'].schema.properties.createdAt).toEqual({
      type: 'string',
      format: 'date-time',
    });

    const list = doc.paths['/v1/flow-logs'].get;
    expect(list.parameters.map((p: { name: string }) => p.name)).toEqual([
      'limit',
      'cursor',
      'name',
      'resourceId',
      'tag',
      'enabled',
    ]);
    expect(list.responses['200'].content['application/json'].schema.required).toEqual(['items', 'nextCursor']);
    const del = doc.paths['/v1/vpcs/{id}'].delete;
    expect(del.parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
    expect(Object.keys(del.responses)).toEqual(expect.arrayContaining(['204', '403', '404', '409']));
    expect(del.responses['204'].content).toBeUndefined();

    const search = doc.paths['/v1/log-topics/{id}/records'].get;
    expect(search.parameters.map((p: { name: string }) => p.name)).toEqual([
      'id',
      'from',
      'to',
      'q',
      'sort',
      'limit',
      'cursor',
      'format',
    ]);
    expect(search.responses['200'].content['application/json'].schema.required).toEqual(['records', 'nextCursor']);
    expect(search.description).toContain('text/csv');
    expect(Object.keys(doc.paths['/v1/log-topics/{id}/tail'].get.responses['200'].content)).toEqual([
      'text/event-stream',
    ]);
  });
});

describe('/docs', () => {
  it('serves Swagger UI from the package, pointed at /openapi.json', async () => {
    expect((await app.inject('/docs')).headers.location).toBe('/docs/');
    const page = await app.inject('/docs/');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('swagger-ui-bundle.js');
    expect(page.body).not.toMatch(/src="https?:/);
    for (const asset of ['swagger-ui-bundle.js', 'swagger-ui.css', 'swagger-ui-standalone-preset.js'])
      expect((await app.inject(`/docs/${asset}`)).statusCode, asset).toBe(200);
    expect((await app.inject('/docs/swagger-initializer.js')).body).toContain("url: '/openapi.json'");
  });
});
