/**
 * `flowlogs up` (issue 14): it refuses clearly when a port it needs is taken, and its services never
 * outlive it, also when it is killed with SIGKILL (they watch a pipe from it: cli/src/exit-with-parent.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, kafkaBrokers, uniquePrefix, type TestDatabase } from '@flowlogs/testkit';
import { CLI, closedPort, flowlogs, lines } from './support/cli.js';
import { until } from './support/stack.js';

/** The live children of a process (zombies, reaped or not, are gone). */
function childrenOf(pid: number): number[] {
  const text = existsSync(`/proc/${pid}/task/${pid}/children`)
    ? readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    : '';
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('flowlogs up', () => {
  let db: TestDatabase;
  let cache: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    cache = mkdtempSync(join(tmpdir(), 'flowlogs-up-'));
    env = {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      FLOWLOGS_TOPIC_PREFIX: uniquePrefix(),
      DATABASE_URL: db.url,
      FLOWLOGS_CACHE_DIR: cache,
      FLOWLOGS_DEMO: '0',
      FLOWLOGS_API_KEY: 'test-up-key-0123456789',
      METRICS_PORT: '0',
      HTTP_PORT: String(await closedPort()),
    };
  });

  afterAll(async () => {
    await db?.drop();
    if (cache) rmSync(cache, { recursive: true, force: true });
  });

  it('refuses in one line when the API port or a metrics port is taken, before starting anything', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const held = (holder.address() as { port: number }).port;
    const unmade = `flowlogs_up_refused_${process.pid}_${Date.now()}`; // a database a refused `up` must not create
    const nodb = `postgres://postgres@127.0.0.1:5432/${unmade}`;
    try {
      const api = await flowlogs(['up'], { ...env, DATABASE_URL: nodb, HTTP_PORT: String(held) }, 30_000);
      expect(api.code, api.stderr).toBe(1);
      expect(lines(api.stderr)).toEqual([
        `flowlogs up: port ${held} on 127.0.0.1, for the API (HTTP_PORT), is taken (another flowlogs up?); stop that, or set another port`,
      ]);
      const metrics = await flowlogs(['up'], { ...env, DATABASE_URL: nodb, METRICS_PORT: String(held) }, 30_000);
      expect(metrics.code, metrics.stderr).toBe(1);
      expect(lines(metrics.stderr)).toEqual([
        `flowlogs up: port ${held} on 127.0.0.1, for the aggregator's metrics (METRICS_PORT), is taken (another flowlogs up?); stop that, or set another port`,
      ]);
      const free = await closedPort();
      const shared = await flowlogs(['up'], { ...env, DATABASE_URL: nodb, METRICS_PORT: String(free) }, 30_000);
      expect(shared.code, shared.stderr).toBe(1);
      expect(lines(shared.stderr)[0]).toMatch(
        new RegExp(`^flowlogs up: port ${free} would be both the aggregator's metrics .* and the publisher's`),
      );
    } finally {
      holder.close();
    }
    const made = await db.pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [unmade]);
    expect(made.rowCount).toBe(0);
  }, 120_000);

  it('takes its services with it when it is killed with SIGKILL', async () => {
    const up = spawn(process.execPath, [CLI, 'up'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let services: number[] = [];
    up.stdout.on('data', (c) => {
      output += c;
    });
    up.stderr.on('data', (c) => {
      output += c;
    });
    try {
      await until('flowlogs up to be up', async () => (output.includes('flowlogs is up.') ? true : undefined), 120_000);
      services = childrenOf(up.pid!);
      expect(services, output).toHaveLength(3); // control plane, aggregator, publisher (no demo)
      expect(services.every(alive)).toBe(true);
      up.kill('SIGKILL');
      await until('the services to stop', async () => (services.some(alive) ? undefined : true), 30_000);
      const api = await fetch(`http://127.0.0.1:${env.HTTP_PORT}/healthz`).then(
        () => 'answered',
        () => 'gone',
      );
      expect(api).toBe('gone');
    } finally {
      if (up.exitCode === null) up.kill('SIGKILL');
      for (const pid of services.filter(alive)) process.kill(pid, 'SIGKILL'); // none when it passed
    }
  }, 180_000);
});
