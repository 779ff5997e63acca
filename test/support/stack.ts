/**
 * The services of an end-to-end test, in-process: control plane, aggregator and publisher on a fresh
 * database and a topic prefix of their own, with an `api()` helper for the control plane's HTTP API.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { FlowRecord } from '@flowlogs/contracts';
import { Aggregator } from '@flowlogs/aggregator';
import { AggregatorConfig } from '@flowlogs/aggregator/config';
import { ControlPlane, ControlPlaneConfig } from '@flowlogs/control-plane';
import { createKafka } from '@flowlogs/kafka';
import { Publisher } from '@flowlogs/publisher';
import { PublisherConfig } from '@flowlogs/publisher/config';
import { createRegistry } from '@flowlogs/runtime';
import { createTestDatabase, kafkaBrokers, testLogger, uniquePrefix, type TestDatabase } from '@flowlogs/testkit';

export const TEST_API_KEY = 'test-admin-key-0123456789';

export interface ApiResponse {
  status: number;
  body: any;
}

export interface Stack {
  /** The control plane's base URL. */
  url: string;
  prefix: string;
  db: TestDatabase;
  log: Logger;
  /** The environment the services were configured from (brokers, prefix, database, API key …). */
  env: Record<string, string>;
  /** A request to the API with the admin key (or `key`; null sends none); JSON bodies both ways. */
  api(method: string, path: string, body?: unknown, key?: string | null): Promise<ApiResponse>;
  /** Binds the ENI to the agent (as a capture agent does); answers the agent's signing secret. */
  bindAgent(eniId: string, agentId: string): Promise<string>;
  /** The running services, and the metrics registries of the aggregator and the publisher. */
  aggregator: Aggregator;
  publisher: Publisher;
  registries: { aggregator: Registry; publisher: Registry };
  /** Stops the services in reverse order and drops the database. */
  stop(): Promise<void>;
}

/** Starts the stack; `env` adds to or overrides the services' settings (e.g. FLOWLOGS_IDLE_CLOSE_MS). */
export async function startStack(env: Record<string, string> = {}, log: Logger = testLogger()): Promise<Stack> {
  const prefix = uniquePrefix();
  const db = await createTestDatabase();
  const fullEnv = {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    FLOWLOGS_TOPIC_PREFIX: prefix,
    DATABASE_URL: db.url,
    HTTP_PORT: '0',
    METRICS_PORT: '0',
    FLOWLOGS_API_KEY: TEST_API_KEY,
    ...env,
  };
  const kafka = createKafka(kafkaBrokers(), `stack-${prefix}`, log);
  const services: Array<{ stop(): Promise<void> }> = [];
  const stop = async () => {
    for (const s of services.reverse()) await s.stop();
    await db.drop();
  };
  try {
    const controlPlane = new ControlPlane({
      config: ControlPlaneConfig.parse(fullEnv),
      log,
      kafka,
      pool: db.pool,
      registry: createRegistry('control-plane'),
    });
    await controlPlane.start();
    services.push(controlPlane);
    const registries = { aggregator: createRegistry('aggregator'), publisher: createRegistry('publisher') };
    const aggregator = new Aggregator({
      config: AggregatorConfig.parse(fullEnv),
      log,
      kafka,
      registry: registries.aggregator,
    });
    const publisher = new Publisher({
      config: PublisherConfig.parse(fullEnv),
      log,
      kafka,
      registry: registries.publisher,
      pool: db.pool,
    });
    await Promise.all([aggregator.start(), publisher.start()]);
    services.push(aggregator, publisher);
    const url = controlPlane.url;
    const api = apiClient(url, TEST_API_KEY);
    const bindAgent = async (eniId: string, agentId: string) => {
      const res = await api('POST', `/v1/network-interfaces/${eniId}/agent`, { agentId });
      if (res.status !== 200)
        throw new Error(`binding ${eniId} to ${agentId}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.secret as string;
    };
    return { url, prefix, db, log, env: fullEnv, api, bindAgent, aggregator, publisher, registries, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Requests to the API at `url` with `defaultKey` (or `key`; null sends none); JSON bodies both ways. */
export function apiClient(url: string, defaultKey: string): Stack['api'] {
  return async (method, path, body, key = defaultKey) => {
    const headers: Record<string, string> = {};
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
  };
}

/** What must agree between the pipeline and the offline path (ids of rules and topics differ by design). */
export function flowView(r: FlowRecord): string {
  return [
    r.interfaceId,
    r.windowStart,
    r.windowEnd,
    r.srcaddr,
    r.dstaddr,
    r.srcport,
    r.dstport,
    r.protocol,
    r.packets,
    r.bytes,
    r.start,
    r.end,
    r.action,
    r.logStatus,
    r.tcpFlags,
    r.flowDirection,
    r.type,
    r.pktSrcaddr,
    r.pktDstaddr,
  ].join(' ');
}

/** Polls `fn` every 250 ms until it gives a value other than undefined; throws after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
