/** The services as child processes, as they run in production (their main.ts), each logging to a file of its own. */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type ServiceName = 'aggregator' | 'publisher' | 'control-plane';

export interface ServiceProcess {
  name: string;
  service: ServiceName;
  child: ChildProcess;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** Its /metrics, for a process started with startObserved. */
  metricsUrl?: string;
}

/** Every child a scenario started, killed on exit of the test process whatever happens. */
const allChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of allChildren)
    if (c.exitCode === null && c.signalCode === null)
      try {
        process.kill(c.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
});

export function spawnService(dir: string, service: ServiceName, name: string, env: NodeJS.ProcessEnv): ServiceProcess {
  const logFile = join(dir, `${name}.log`);
  appendFileSync(logFile, `--- ${new Date().toISOString()} start ${name}\n`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'services', service, 'src', 'main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  allChildren.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      allChildren.delete(child);
      appendFileSync(logFile, `--- ${new Date().toISOString()} ${name} exited (${signal ?? code})\n`);
      resolve({ code, signal });
    });
  });
  return { name, service, child, logFile, exited, alive: () => child.exitCode === null && child.signalCode === null };
}

export async function kill9(p: ServiceProcess): Promise<void> {
  if (!p.alive()) return;
  appendFileSync(p.logFile, `--- ${new Date().toISOString()} kill -9 ${p.name} (pid ${p.child.pid})\n`);
  p.child.kill('SIGKILL');
  await p.exited;
}

/** A graceful stop (SIGTERM: the service leaves its consumer group); resolves when it has exited. */
export async function term(p: ServiceProcess): Promise<void> {
  if (!p.alive()) return;
  appendFileSync(p.logFile, `--- ${new Date().toISOString()} SIGTERM ${p.name} (pid ${p.child.pid})\n`);
  p.child.kill('SIGTERM');
  await p.exited;
}

/** Requests to the control plane's API at `url` with `key`, JSON both ways; an answer of 300 or more is thrown with its body. */
export function apiCaller(url: string, key: string) {
  return async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
}
