/**
 * Running external tools (and our own child processes) with wall clock, CPU
 * time and peak RSS, through GNU time (`/usr/bin/time -f`), and small
 * statistics helpers for repeated runs.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface Timed {
  /** Wall-clock seconds of the whole process. */
  wallSec: number;
  userSec: number;
  sysSec: number;
  /** Peak resident set, KiB (the largest of the process and the children it waited for). */
  maxRssKb: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export const GNU_TIME = '/usr/bin/time';

/** The absolute path of an executable on PATH (plus the sbin directories), or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function hasGnuTime(): boolean {
  try {
    accessSync(GNU_TIME, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs `command args` under GNU time; the figures come from time's own output file, apart from the tool's output. */
export function runTimed(command: string, args: string[], opts: { cwd?: string; timeoutSec?: number } = {}): Timed {
  const report = join(tmpdir(), `bench-time-${process.pid}-${Date.now()}.txt`);
  try {
    const result = spawnSync(GNU_TIME, ['-f', '%e %U %S %M', '-o', report, command, ...args], {
      cwd: opts.cwd,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: (opts.timeoutSec ?? 600) * 1000,
    });
    if (result.error) throw result.error;
    // time's file may start with "Command exited with non-zero status N".
    const lines = readFileSync(report, 'utf8').trim().split('\n');
    const [wall, user, sys, rss] = lines[lines.length - 1].split(' ').map(Number);
    return {
      wallSec: wall,
      userSec: user,
      sysSec: sys,
      maxRssKb: rss,
      exitCode: result.status ?? -1,
      stdout: result.stdout,
      stderr: result.stderr,
    };
  } finally {
    rmSync(report, { force: true });
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function best(values: number[]): number {
  return Math.max(...values);
}

/** "3.12 M", "850 k": packets per second and the like. */
export function si(value: number, digits = 2): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(digits)} G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(digits)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(digits)} k`;
  return value.toFixed(digits);
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** A plain-text table with a header rule; columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join(' | ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}
