/** The `flowlogs` command as a user runs it: a child process, its exit code and output. */
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '..', '..', 'cli', 'bin.mjs');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a child (asynchronously: the control plane may answer from this process). */
export function flowlogs(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** A port nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export const lines = (text: string) => text.split('\n').filter(Boolean);
