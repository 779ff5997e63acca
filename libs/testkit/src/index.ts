import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { pino, type Logger } from 'pino';
import { createPool, dropDatabase, ensureDatabase, migrate, type Pool } from '@flowlogs/db';

export function kafkaBrokers(): string[] {
  return inject('kafkaBrokers');
}

/** A Kafka topic prefix of its own, so test files share the broker without seeing each other's data. */
export function uniquePrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

export function testLogger(): Logger {
  return pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
}

export interface TestDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

/** A fresh database with the migrations applied; drop() removes it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const url = new URL(inject('databaseUrl'));
  url.pathname = `/flowlogs_test_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(url.toString());
  const pool = createPool(url.toString());
  await migrate(pool);
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      await dropDatabase(url.toString());
    },
  };
}

export * from './records.js';
