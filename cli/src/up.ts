/**
 * `flowlogs up`: the whole stack in the foreground. Kafka (the local runner unless KAFKA_BROKERS
 * is set), the Postgres database, the four services as child processes with prefixed logs, and
 * the demo unless FLOWLOGS_DEMO=0. Ctrl-C stops what it started; the services also stop when `up`
 * dies (exit-with-parent.ts). It refuses to start when a port a service needs is taken.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createPool, ensureDatabase, migrate } from '@flowlogs/db';
import { ensureLocalKafka, type LocalKafka } from '@flowlogs/local-kafka';
import { AggregatorConfig } from '@flowlogs/aggregator/config';
import { CaptureAgentConfig } from '@flowlogs/capture-agent';
import { ControlPlaneConfig } from '@flowlogs/control-plane';
import { PublisherConfig } from '@flowlogs/publisher/config';
import { CommonConfig, parseConfig, SERVICE_NODE_FLAGS } from '@flowlogs/runtime';
import { setUpDemo } from './demo.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CACHE = process.env.FLOWLOGS_CACHE_DIR ?? join(ROOT, '.cache');
const COLORS = { 'control-plane': 36, aggregator: 35, publisher: 33, 'capture-agent': 32 } as const;
type ServiceName = keyof typeof COLORS;

const EXIT_WITH_PARENT = join(ROOT, 'cli', 'src', 'exit-with-parent.ts');

const say = (msg: string) => process.stderr.write(`\x1b[1m[flowlogs]\x1b[0m ${msg}\n`);

/** The API key: FLOWLOGS_API_KEY, or one made on the first run and kept in the cache folder. */
function apiKey(): string {
  if (process.env.FLOWLOGS_API_KEY) return process.env.FLOWLOGS_API_KEY;
  const file = join(CACHE, 'api-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(CACHE, { recursive: true });
  const key = `fl_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, key, { mode: 0o600 });
  return key;
}

class Supervisor {
  private readonly children = new Map<ServiceName, ChildProcess>();
  private stopping = false;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** Runs a service; one that dies is started again after a second, as a process manager would. */
  start(name: ServiceName, extraEnv: NodeJS.ProcessEnv = {}): void {
    const child = spawn(
      process.execPath,
      [
        ...SERVICE_NODE_FLAGS[name],
        '--import',
        'tsx',
        '--import',
        EXIT_WITH_PARENT,
        join(ROOT, 'services', name, 'src', 'main.ts'),
      ],
      {
        // A process group of its own: Ctrl-C reaches the service once, through stopAll(), not also from the terminal.
        // stdin a pipe from here: when this process dies, the service sees it close and stops (exit-with-parent.ts).
        cwd: ROOT,
        env: { ...this.env, ...extraEnv },
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      },
    );
    const prefix = `\x1b[${COLORS[name]}m${name.padEnd(13)}\x1b[0m| `;
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix + line}\n`));
    }
    child.on('exit', (code, signal) => {
      this.children.delete(name);
      if (this.stopping) return;
      say(`${name} exited (${signal ?? code}); restarting in 1 s`);
      setTimeout(() => !this.stopping && this.start(name, extraEnv), 1000);
    });
    this.children.set(name, child);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Whether something listens on host:port already (port 0: any free port, never taken). */
function taken(host: string, port: number): Promise<boolean> {
  if (port === 0) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(true) : reject(err)));
    server.listen(port, host, () => server.close(() => resolve(false)));
  });
}

/**
 * The ports the services will listen on, from their own configs: a refusal naming the first one taken
 * (another `flowlogs up`, say) rather than services looping on EADDRINUSE.
 */
async function requireFreePorts(env: NodeJS.ProcessEnv, demo: boolean): Promise<void> {
  const api = parseConfig(ControlPlaneConfig, env);
  const ports = [{ what: 'the API (HTTP_PORT)', host: api.HTTP_HOST, port: api.HTTP_PORT }];
  const metered = {
    aggregator: AggregatorConfig,
    publisher: PublisherConfig,
    ...(demo ? { 'capture-agent': CaptureAgentConfig } : {}),
  };
  for (const [name, schema] of Object.entries(metered)) {
    const { METRICS_HOST: host, METRICS_PORT: port } = parseConfig(schema, env);
    ports.push({ what: `the ${name}'s metrics (METRICS_PORT)`, host, port });
  }
  const seen = new Map<number, string>();
  for (const { what, host, port } of ports) {
    if (port !== 0 && seen.has(port)) {
      throw new Error(
        `port ${port} would be both ${seen.get(port)} and ${what}: unset METRICS_PORT (each service has its own default) or set it to 0`,
      );
    }
    seen.set(port, what);
    if (await taken(host, port))
      throw new Error(
        `port ${port} on ${host}, for ${what}, is taken (another flowlogs up?); stop that, or set another port`,
      );
  }
}

export async function runUp(): Promise<void> {
  const common = parseConfig(CommonConfig);
  const withDemo = process.env.FLOWLOGS_DEMO !== '0';
  await requireFreePorts(process.env, withDemo);
  let kafka: LocalKafka | undefined;
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    kafka = await ensureLocalKafka({ log: (m) => say(`kafka: ${m}`) });
    brokers = kafka.brokers.join(',');
  }
  say(`Kafka at ${brokers}`);
  await ensureDatabase(common.DATABASE_URL);
  const pool = createPool(common.DATABASE_URL, 1);
  const applied = await migrate(pool);
  await pool.end();
  say(`Postgres database ready${applied.length ? ` (applied ${applied.join(', ')})` : ''}`);

  const key = apiKey();
  const { HTTP_HOST: host, HTTP_PORT: port } = parseConfig(ControlPlaneConfig, process.env);
  const apiUrl = `http://${host}:${port}`;
  const supervisor = new Supervisor({
    ...process.env,
    KAFKA_BROKERS: brokers,
    FLOWLOGS_API_KEY: key,
    FLOWLOGS_API_URL: apiUrl,
  });

  let shuttingDown = false;
  const shutdown = async () => {
    if (shuttingDown) return;
    shuttingDown = true;
    say('stopping…');
    await supervisor.stopAll();
    if (kafka?.started) {
      say('stopping Kafka');
      await kafka.stop();
    }
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  supervisor.start('control-plane');
  supervisor.start('aggregator');
  supervisor.start('publisher');
  await waitReady(`${apiUrl}/readyz`, 120_000);

  let demo = '';
  if (withDemo) {
    const setup = await setUpDemo({ apiUrl, apiKey: key, cacheDir: join(CACHE, 'demo') });
    supervisor.start('capture-agent', { FLOWLOGS_AGENT_CONFIG: setup.agentConfigPath });
    demo = [
      '',
      `  Demo: ENI ${setup.eniId} (${setup.eniIp}) replays generated traffic in a loop; flow log ${setup.flowLogId}`,
      `  writes ${setup.interval}-second windows to log topic ${setup.logTopicId} (Kafka topic ${setup.kafkaTopic}).`,
      `  Records within a minute:  curl -H 'Authorization: Bearer ${key}' '${apiUrl}/v1/log-topics/${setup.logTopicId}/records?q=10.0.1.20'`,
    ].join('\n');
  }
  say(
    [
      'flowlogs is up.',
      `  API:      ${apiUrl}`,
      `  API key:  ${key}`,
      demo,
      '  Ctrl-C stops everything started here.',
    ].join('\n'),
  );
  await new Promise(() => {});
}
