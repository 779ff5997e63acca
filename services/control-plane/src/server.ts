/** The HTTP server: error shapes, request metrics, and the route plugins. No listening here. */
import Fastify, { LogController, type FastifyError } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '@flowlogs/runtime';
import { HttpError, notFound } from './errors.js';
import type { Metrics } from './metrics.js';
import { collectRoutes } from './openapi.js';
import { docsRoutes } from './routes/docs.js';
import type { ApiContext } from './routes/context.js';
import { opsRoutes } from './routes/ops.js';
import { v1Routes } from './routes/v1.js';

export interface ServerOptions {
  log: Logger;
  registry: Registry;
  metrics: Metrics;
  ready(): Promise<boolean>;
  api: ApiContext;
}

export function buildServer({ log, registry, metrics, ready, api }: ServerOptions) {
  // Requests are counted in /metrics; the log keeps to errors and the lifecycle.
  const app = Fastify({ loggerInstance: log, logController: new LogController({ disableRequestLogging: true }) });
  const routes = collectRoutes(app); // for the OpenAPI document

  app.setErrorHandler<FastifyError | HttpError>((err, req, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).send(err.body);
    // Fastify's own client errors: malformed JSON, unsupported content type, body too large.
    const status = err.statusCode ?? 500;
    if (status < 500) return reply.code(status).send(new HttpError(status, err.message).body);
    req.log.error({ err, method: req.method, url: req.url }, 'request failed');
    return reply.code(500).send(new HttpError(500, 'internal error; the service log has the details').body);
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(notFound(`no route ${req.method} ${req.url}`).body));

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status: reply.statusCode });
    metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.register(opsRoutes({ registry, ready }));
  app.register(v1Routes(api), { prefix: '/v1' });
  app.register(docsRoutes(routes)); // /openapi.json and /docs
  app.register(import('./routes/console.js')); // the web console: / and /console/*
  return app;
}
