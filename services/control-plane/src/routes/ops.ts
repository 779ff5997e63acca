/** Liveness, readiness and Prometheus metrics, without authentication. */
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';

export interface OpsOptions {
  registry: Registry;
  /** True when Postgres answers and the Kafka producer is connected. */
  ready(): Promise<boolean>;
}

export const opsRoutes = ({ registry, ready }: OpsOptions): FastifyPluginAsync => async (app) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const ok = await ready();
    reply.code(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable' };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
};
