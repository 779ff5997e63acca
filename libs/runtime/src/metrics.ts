import { Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per service instance, so several services can run in one process (tests) without clashing. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
