/** Liveness, readiness and Prometheus metrics, without authentication. */
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { openapi } from '../openapi.js';

export interface OpsOptions {
  registry: Registry;
  /** True when Postgres answers and the Kafka producer is connected. */
  ready(): Promise<boolean>;
}

export const opsRoutes =
  ({ registry, ready }: OpsOptions): FastifyPluginAsync =>
  async (app) => {
    const Status = z.object({ status: z.enum(['ok', 'unavailable']) });
    app.get('/healthz', openapi({ summary: 'Liveness', public: true, response: Status }), async () => ({
      status: 'ok',
    }));

    app.get(
      '/readyz',
      openapi({
        summary: 'Readiness: Postgres answers and the Kafka producer is connected (503 otherwise)',
        public: true,
        response: Status,
      }),
      async (_req, reply) => {
        const ok = await ready();
        reply.code(ok ? 200 : 503);
        return { status: ok ? 'ok' : 'unavailable' };
      },
    );

    app.get(
      '/metrics',
      openapi({ summary: 'Prometheus metrics', public: true, response: z.string(), contentType: 'text/plain' }),
      async (_req, reply) => {
        reply.type(registry.contentType);
        return registry.metrics();
      },
    );
  };
