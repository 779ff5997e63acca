import { inspect } from 'node:util';

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

/**
 * A failure as one line: its message, then each cause that adds something (fetch's "fetch failed" says
 * nothing without its cause's "connect ECONNREFUSED 127.0.0.1:8080"), line breaks folded.
 */
export function errorLine(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 4; e = e instanceof Error ? e.cause : undefined) {
    const message = e instanceof Error ? e.message || e.name : String(e);
    if (!parts.some((p) => p.includes(message))) parts.push(message);
  }
  return parts.join(': ').replace(/\s*\n\s*/g, ' ');
}

/**
 * What every command prints when it fails: `flowlogs <command>: <cause>` on one line, and with --debug
 * the stack (causes included) after it. The caller exits with code 1.
 */
export function reportFailure(command: string, err: unknown, debug: boolean): void {
  process.stderr.write(`flowlogs ${command}: ${errorLine(err)}\n`);
  if (debug) process.stderr.write(`${inspect(err, { depth: 4 })}\n`);
}
