/** GET /openapi.json, and Swagger UI at /docs from the swagger-ui-dist package: no network needed. */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { openapi, openApiDocument, type RouteEntry } from '../openapi.js';

const SWAGGER_UI = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

// Replaces the package's initializer, which points at the petstore example.
const INITIALIZER = `window.onload = () => {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });
};
`;

export const docsRoutes =
  (routes: readonly RouteEntry[]): FastifyPluginAsync =>
  async (app) => {
    let document: object | undefined; // made at the first request, when every route is registered
    app.get(
      '/openapi.json',
      openapi({ summary: 'This OpenAPI document', public: true, response: z.record(z.string(), z.unknown()) }),
      async () => (document ??= openApiDocument(routes)),
    );
    app.get('/docs', (_req, reply) => reply.redirect('/docs/'));
    app.get('/docs/swagger-initializer.js', (_req, reply) => reply.type('text/javascript').send(INITIALIZER));
    await app.register(fastifyStatic, { root: SWAGGER_UI, prefix: '/docs/', decorateReply: false });
  };
