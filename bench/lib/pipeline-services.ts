/**
 * The pipeline benchmark's moving parts: the services as child processes
 * (`node --import tsx services/<name>/src/main.ts`, configured by env vars,
 * each with its own METRICS_PORT and a log file), their Prometheus /metrics
 * scraped and parsed, and CPU time of other processes (the Kafka broker,
 * Postgres) read from /proc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_NODE_FLAGS, type ServiceName } from '@flowlogs/runtime';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Service {
  name: string;
  child: ChildProcess;
  /** Where /metrics, /readyz are served (the control plane: its API). */
  baseUrl: string;
  logPath: string;
  exited: Promise<number | null>;
}

const running = new Set<Service>();

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.unref();
    server.on('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => res(port));
    });
  });
}

/** Starts `services/<service>/src/main.ts` in a child Node process; its output goes to `<logDir>/<name>.log`. */
export function startService(
  service: ServiceName,
  name: string,
  env: Record<string, string>,
  port: number,
  logDir: string,
  nodeArgs: string[] = [],
): Service {
  const logPath = join(logDir, `${name}.log`);
  const out = createWriteStream(logPath);
  const args = [
    ...SERVICE_NODE_FLAGS[service],
    ...nodeArgs,
    '--import',
    'tsx',
    join('services', service, 'src', 'main.ts'),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  const exited = new Promise<number | null>((res) =>
    child.on('exit', (code) => {
      running.delete(svc);
      out.end();
      res(code);
    }),
  );
  const svc: Service = { name, child, baseUrl: `http://127.0.0.1:${port}`, logPath, exited };
  running.add(svc);
  return svc;
}

/** The control plane on `port`, once it is ready (the agents register and bind their ENIs through it). */
export async function startControlPlane(env: Record<string, string>, port: number, logDir: string): Promise<Service> {
  const svc = startService('control-plane', 'control-plane', { ...env, HTTP_PORT: String(port) }, port, logDir);
  await waitReady(svc, '/readyz');
  return svc;
}

/** A request to the control plane's API with an admin key; the answer's JSON (throws on an error status). */
export async function apiCall(url: string, key: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** Waits until `path` on the service answers 200 (or throws when it exits or the time is up). */
export async function waitReady(svc: Service, path = '/readyz', timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (svc.child.exitCode !== null)
      throw new Error(`${svc.name} exited (${svc.child.exitCode}) before it was ready; see ${svc.logPath}`);
    try {
      const res = await fetch(svc.baseUrl + path, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${svc.name} not ready after ${timeoutMs / 1000} s; see ${svc.logPath}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopService(svc: Service, graceMs = 10_000): Promise<void> {
  if (svc.child.exitCode !== null || svc.child.signalCode !== null) return;
  svc.child.kill('SIGTERM');
  const timer = setTimeout(() => svc.child.kill('SIGKILL'), graceMs);
  await svc.exited;
  clearTimeout(timer);
}

/** Stops every service this process started (reverse start order). */
export async function stopAll(): Promise<void> {
  for (const svc of [...running].reverse()) await stopService(svc);
}

/** Synchronous last resort (process exit): SIGKILL whatever is left. */
export function killAllNow(): void {
  for (const svc of running) {
    try {
      svc.child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Prometheus text: metric name → sum over its label sets (enough for these counters and gauges). */
export type Metrics = Map<string, number>;

export function parseMetrics(text: string): Metrics {
  const m: Metrics = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    if (space < 0) continue;
    const name = brace >= 0 && brace < space ? line.slice(0, brace) : line.slice(0, line.indexOf(' '));
    const value = Number(line.slice(space + 1));
    if (!Number.isFinite(value)) continue;
    m.set(name, (m.get(name) ?? 0) + value);
  }
  return m;
}

/** A service's /metrics, or undefined when it does not answer within `timeoutMs`. */
export async function scrape(svc: Service, timeoutMs = 5000): Promise<Metrics | undefined> {
  try {
    const res = await fetch(`${svc.baseUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    return parseMetrics(await res.text());
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process, seconds (undefined when it is gone). */
export function procCpuSec(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineCpuSec(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
}

export function machineDescription(): string {
  let model = cpus()[0]?.model ?? 'unknown CPU';
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    // not Linux
  }
  let load = '';
  try {
    load = `; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} at start`;
  } catch {
    // not Linux
  }
  return `${model}, ${cpus().length} cores; Node ${process.version}${load}`;
}

/** The pid of the process listening on a local TCP port (`ss -ltnp`), if it can be seen. */
function listenerPid(port: number): number | undefined {
  const out = spawnSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  const pid = /pid=(\d+)/.exec(out.stdout ?? '')?.[1];
  return pid ? Number(pid) : undefined;
}

/** The local broker's state (`npx flowlogs-kafka status`), started when nothing answers on its port. */
export function ensureKafka(): { pid?: number; started: boolean } {
  // KAFKA_BROKERS naming a local broker of its own (another port) measures the run apart from the shared one.
  const port = Number(/^127\.0\.0\.1:(\d+)/.exec(process.env.KAFKA_BROKERS ?? '')?.[1] ?? 9092);
  const env = { ...process.env, KAFKA_LOCAL_PORT: String(port) };
  const status = () => {
    const out = spawnSync('npx', ['flowlogs-kafka', 'status'], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    try {
      return JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as { answering?: boolean; pid?: number };
    } catch {
      return {};
    }
  };
  const first = status();
  // Another checkout's broker (a worktree's status knows only its own pid file): the listener's pid.
  if (first.answering) return { pid: first.pid ?? listenerPid(port), started: false };
  const start = spawnSync('npx', ['flowlogs-kafka', 'start'], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    timeout: 300_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (start.status !== 0) throw new Error(`npx flowlogs-kafka start failed (${start.status}): ${start.stderr}`);
  const second = status();
  if (!second.answering) throw new Error('the Kafka broker does not answer after `npx flowlogs-kafka start`');
  return { pid: second.pid, started: true };
}
