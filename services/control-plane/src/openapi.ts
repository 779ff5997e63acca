/**
 * The OpenAPI 3.1 document, made from the routes as registered. A route declares its zod schemas once,
 * with `openapi({...})` as its route options, and validates its input with the same schemas:
 *
 *   app.get('/log-topics/:id/records', openapi({ summary: 'Search records', query: SearchQuery, response: RecordPage }), handler)
 *
 * Every /v1 route is in the document; one without a declaration shows up marked `x-undocumented`.
 */
import { STATUS_CODES } from 'node:http';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import { z } from 'zod';
import { ErrorBody } from './errors.js';

export interface RouteDoc {
  summary: string;
  description?: string;
  /** The query string, as an object schema (what the handler validates `req.query` with). */
  query?: z.ZodType;
  /** The JSON body. */
  body?: z.ZodType;
  /** The success answer's body (null: none, as for a 204), its status (default 200) and media type (default JSON). */
  response?: z.ZodType | null;
  status?: number;
  contentType?: string;
  /** Error answers beyond those the route's shape implies (400 for input, 401, 403 for writes, 404 for ids in the path, 429). */
  errors?: number[];
  /** Needs no API key (health, metrics, this document). */
  public?: boolean;
  /** A POST that only reads (a search too long for a query string): read-only keys may call it. */
  read?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    openapi?: RouteDoc;
  }
}

/** Route options that put the route in the OpenAPI document. */
export const openapi = (doc: RouteDoc) => ({ config: { openapi: doc } });

export interface RouteEntry {
  method: string;
  url: string;
  doc?: RouteDoc;
}

/** Collects every route registered after this call: call it on the root instance before registering any. */
export function collectRoutes<L extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, L>,
): RouteEntry[] {
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      if (method !== 'HEAD') routes.push({ method, url: route.url, doc: route.config?.openapi });
  });
  return routes;
}

type JsonSchema = Record<string, unknown> & { properties?: Record<string, unknown>; required?: string[] };

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect): bodies and queries as sent, answers as received. */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema._zod.def.type === 'date') Object.assign(jsonSchema, { type: 'string', format: 'date-time' });
    },
  }) as JsonSchema;
  return rest;
}

const json = (schema: unknown) => ({ 'application/json': { schema } });
const ERROR_REF = { $ref: '#/components/schemas/Error' };
const pathParams = (url: string) => [...url.matchAll(/:(\w+)/g)].map((m) => m[1]);

function operation({ method, url, doc }: RouteEntry) {
  const params = pathParams(url).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
  if (!doc)
    return {
      summary: `${method} ${url}`,
      'x-undocumented': true,
      parameters: params,
      responses: { default: { description: 'not documented yet' } },
    };
  const query = doc.query ? jsonSchema(doc.query, 'input') : undefined;
  const queryParams = Object.entries(query?.properties ?? {}).map(([name, schema]) => ({
    name,
    in: 'query',
    required: query?.required?.includes(name) ?? false,
    schema,
  }));
  const errors = new Set([
    ...(doc.query || doc.body || params.length ? [400] : []),
    ...(doc.public ? [] : [401, ...(method === 'GET' || doc.read ? [] : [403]), 429]),
    ...(params.length ? [404] : []),
    ...(doc.errors ?? []),
  ]);
  const status = doc.status ?? 200;
  const success =
    doc.response === null
      ? { description: STATUS_CODES[status] }
      : {
          description: STATUS_CODES[status],
          content: {
            [doc.contentType ?? 'application/json']: { schema: doc.response ? jsonSchema(doc.response, 'output') : {} },
          },
        };
  return {
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: [url.startsWith('/v1/') ? url.split('/')[2] : 'service'],
    ...(doc.public ? { security: [] } : {}),
    parameters: [...params, ...queryParams],
    ...(doc.body ? { requestBody: { required: true, content: json(jsonSchema(doc.body, 'input')) } } : {}),
    responses: {
      [status]: success,
      ...Object.fromEntries(
        [...errors].sort().map((s) => [
          s,
          {
            description: STATUS_CODES[s],
            ...(s === 429
              ? {
                  headers: {
                    'retry-after': { description: 'seconds until the limit resets', schema: { type: 'integer' } },
                  },
                }
              : {}),
            content: json(ERROR_REF),
          },
        ]),
      ),
    },
  };
}

/** The document: every /v1 route, and the other routes that declare themselves. */
export function openApiDocument(routes: readonly RouteEntry[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (!route.doc && !route.url.startsWith('/v1/')) continue;
    const path = route.url.replace(/:(\w+)/g, '{$1}');
    (paths[path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'flowlogs control plane',
      version: '1',
      description:
        "VPC flow logs: network inventory, logsets and log topics, flow logs, record search. A key sees only its own account: another account's id answers 404.",
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'an API key: `Authorization: Bearer <key>`' },
      },
      schemas: { Error: jsonSchema(ErrorBody, 'output') },
    },
  };
}
