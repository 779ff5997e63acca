import type { TestProject } from 'vitest/node';
import { startInfra } from './infra.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const infra = await startInfra((m) => console.error(`[test infra] ${m}`));
  project.provide('kafkaBrokers', infra.brokers);
  project.provide('databaseUrl', infra.databaseUrl);
  return () => infra.stop();
}
