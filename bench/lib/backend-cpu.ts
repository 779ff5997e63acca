/**
 * The CPU of the Postgres backends that serve one database, told apart from the rest of a shared
 * server by their process title ("postgres: 15/main: postgres <db> 127.0.0.1(…) idle"). A backend's
 * figure is kept after its connection ends (pmacct's writers connect per purge), so sample often.
 * Background processes (WAL writer, checkpointer, autovacuum) serve every database: not counted.
 *
 * Run as a program (`tsx bench/lib/backend-cpu.ts DB`), it samples every 50 ms until SIGTERM and
 * then prints the total: for a benchmark whose peer runs synchronously (runTimed).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { procCpuSec } from './pipeline-services.js';

export class BackendCpu {
  private readonly seen = new Map<number, number>();
  private readonly needle: string;

  constructor(db: string) {
    this.needle = ` ${db} `;
  }

  /** The backends' CPU seconds so far (those ended since the last sample: as last seen). */
  sample(): number {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        if (!title.startsWith('postgres:') || !title.includes(this.needle)) continue;
        const cpu = procCpuSec(Number(entry));
        if (cpu !== undefined) this.seen.set(Number(entry), cpu);
      } catch {
        // gone
      }
    }
    let total = 0;
    for (const cpu of this.seen.values()) total += cpu;
    return total;
  }
}

/** Samples in a child process (the caller may block); `stop` answers the CPU seconds used since the start. */
export function sampleBackendsAside(db: string): { stop(): Promise<number> } {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), db], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('exit', r));
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
      return Number(out.trim());
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cpu = new BackendCpu(process.argv[2]);
  const start = cpu.sample();
  const timer = setInterval(() => cpu.sample(), 50);
  process.on('SIGTERM', () => {
    clearInterval(timer);
    console.log(cpu.sample() - start);
    process.exit(0);
  });
}
