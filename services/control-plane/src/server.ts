/** The HTTP server: error shapes, request metrics, and the route plugins. No listening here. */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyError, type FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '@flowlogs/runtime';
import { HttpError, invalid, notFound, nulIssues } from './errors.js';
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

/** The longest path parameter (an id); a longer one is answered 414. */
const MAX_PARAM_LENGTH = 100;

/** What Node's HTTP parser refuses before Fastify sees the request, by its error code: the status and why. */
const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'the request headers (with the URL) are over 16 KB; send a long search as POST /v1/log-topics/:id/records/search',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request took too long to arrive'],
};

/** Those refusals in the API's error shape, rather than Fastify's default (which adds statusCode). */
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] = CLIENT_ERRORS[err.code ?? ''] ?? [
    400,
    `malformed HTTP request (${err.code ?? err.message})`,
  ];
  const body = JSON.stringify(new HttpError(status, message).body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export function buildServer({ log, registry, metrics, ready, api }: ServerOptions) {
  // Requests are counted in /metrics; the log keeps to errors and the lifecycle.
  const app = Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    clientErrorHandler: clientError,
    // A path the router cannot take (bad percent-encoding: 400, a parameter over MAX_PARAM_LENGTH: 414), in the API's error shape.
    frameworkErrors: (err, _req, reply: FastifyReply) => {
      const status = err.statusCode ?? 400;
      const message =
        status === 414
          ? `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`
          : 'the URL is not valid (bad percent-encoding)';
      return reply.code(status).send(new HttpError(status, message).body);
    },
  });
  const routes = collectRoutes(app); // for the OpenAPI document

  // Postgres text cannot hold a NUL byte: refused for every input up front, naming the field, instead of a 500 at the query.
  app.addHook('preValidation', async (req) => {
    const issues = [...nulIssues(req.params), ...nulIssues(req.query), ...nulIssues(req.body)];
    if (issues.length) throw invalid(issues);
  });

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
