import { Counter, Histogram, type Registry } from 'prom-client';

export function createMetrics(registry: Registry) {
  return {
    httpRequests: new Counter({
      name: 'flowlogs_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'flowlogs_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method and route pattern.',
      labelNames: ['method', 'route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    rulesPublished: new Counter({
      name: 'flowlogs_rules_published_total',
      help: 'Flow-log rules published to the rules topic (creates and start-up republishing).',
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
