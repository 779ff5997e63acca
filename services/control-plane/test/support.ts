/** A control plane on a database of its own, and a client for its API. */
import type { Kafka } from 'kafkajs';
import { type FlowRecord, RECORD_COLUMNS, recordRow } from '@flowlogs/contracts';
import { ensureDayPartitions } from '@flowlogs/db';
import { createKafka } from '@flowlogs/kafka';
import { createRegistry, parseConfig } from '@flowlogs/runtime';
import { createTestDatabase, kafkaBrokers, testLogger, uniquePrefix, type TestDatabase } from '@flowlogs/testkit';
import { hashApiKey } from '../src/api-key.js';
import { ControlPlane, ControlPlaneConfig } from '../src/control-plane.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of any shape
}

export interface TestControlPlane {
  cp: ControlPlane;
  config: ControlPlaneConfig;
  db: TestDatabase;
  kafka: Kafka;
  prefix: string;
  /** A request with the admin key (or `key`; null sends none); a string body is sent as is. */
  api(method: string, path: string, body?: unknown, key?: string | null): Promise<ApiAnswer>;
  stop(): Promise<void>;
}

export async function startControlPlane(env: Record<string, string> = {}): Promise<TestControlPlane> {
  const db = await createTestDatabase();
  const prefix = uniquePrefix();
  const config = parseConfig(ControlPlaneConfig, {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    FLOWLOGS_TOPIC_PREFIX: prefix,
    DATABASE_URL: db.url,
    HTTP_PORT: '0',
    FLOWLOGS_API_KEY: ADMIN_KEY,
    KAFKA_PARTITIONS: '2',
    ...env,
  });
  const kafka = createKafka(config.KAFKA_BROKERS, 'control-plane-test', testLogger());
  const cp = new ControlPlane({
    config,
    log: testLogger(),
    kafka,
    pool: db.pool,
    registry: createRegistry('control-plane'),
  });
  await cp.start();
  const api = async (
    method: string,
    path: string,
    body?: unknown,
    key: string | null = ADMIN_KEY,
  ): Promise<ApiAnswer> => {
    const headers: Record<string, string> = {};
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${cp.url}${path}`, {
      method,
      headers,
      body: typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text,
    };
  };
  const stop = async () => {
    await cp.stop();
    await db.drop();
  };
  return { cp, config, db, kafka, prefix, api, stop };
}

/** A second account with an admin key and a read-only key, inserted directly as an operator would. */
export async function addAccount(
  db: TestDatabase,
  id: string,
  keys: Record<string, 'admin' | 'readonly'>,
): Promise<void> {
  await db.pool.query("INSERT INTO accounts (id, name) VALUES ($1, 'other')", [id]);
  for (const [key, role] of Object.entries(keys)) {
    await db.pool.query('INSERT INTO api_keys (id, account_id, key_hash, role) VALUES ($1, $2, $3, $4)', [
      `key-${role}-${id}`,
      id,
      hashApiKey(key),
      role,
    ]);
  }
}

/** Stores records as the publisher would (their day partitions made first). */
export async function insertRecords(db: TestDatabase, records: FlowRecord[]): Promise<void> {
  await ensureDayPartitions(
    db.pool,
    records.map((r) => r.windowStart),
    new Set(),
  );
  const placeholders = RECORD_COLUMNS.map((_, i) => `$${i + 1}`).join(', ');
  for (const r of records) {
    await db.pool.query(
      `INSERT INTO flow_records (${RECORD_COLUMNS.join(', ')}) VALUES (${placeholders})`,
      recordRow(r),
    );
  }
}
