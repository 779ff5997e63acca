/**
 * The peers flowlogs is compared with on the same capture file:
 *   tcpdump  – `tcpdump -r FILE -w /dev/null`: libpcap reading and re-writing every record, no decoding.
 *   pmacctd  – pmacct's libpcap accounting daemon reading the file as a savefile and aggregating
 *              per (src_host, dst_host, src_port, dst_port, proto) into its print plugin (CSV).
 *
 * pmacctd notes (1.7.x): with a savefile it sleeps at start-up (2 s unless
 * pcap_savefile_delay says otherwise; 1 s is the least) and waits for its
 * plugin at exit, so a run on a tiny capture is timed too and its wall clock
 * subtracted. The core process and the print plugin are two processes that
 * hand packets over through a shared-memory ring (plugin_pipe_size, chunks of
 * plugin_buffer_size); with the defaults (no buffering) the core mostly sleeps
 * waiting for the plugin, and with a ring much larger than the plugin can
 * drain before the file ends the plugin is stopped with packets still queued.
 * 10 MB / 100 kB (the documented 1:100 ratio) counted every packet in our runs;
 * each run's CSV is summed and checked against the capture anyway.
 */
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { findBinary, runTimed, type Timed } from './measure.js';

export interface PeerRun extends Timed {
  commandLine: string;
}

export function tcpdumpBinary(): string | undefined {
  return findBinary('tcpdump');
}

export function pmacctdBinary(): string | undefined {
  return findBinary('pmacctd');
}

export function runTcpdump(binary: string, file: string): PeerRun {
  const args = ['-r', file, '-w', '/dev/null'];
  const run = runTimed(binary, args);
  if (run.exitCode !== 0) throw new Error(`tcpdump exited with ${run.exitCode}: ${run.stderr}`);
  return { ...run, commandLine: [binary, ...args].join(' ') };
}

export interface PmacctdRun extends PeerRun {
  /** Rows of the print plugin's CSV (aggregates). */
  rows: number;
  /** Sum of its PACKETS column: should equal the capture's packet count. */
  packets: number;
  bytes: number;
  config: string;
}

export const PMACCTD_PIPE_SIZE = 10_240_000;
export const PMACCTD_BUFFER_SIZE = 102_400;

/** Writes the config into `workDir` and runs `pmacctd -f CONFIG` on the file; sums the CSV it leaves. */
export function runPmacctd(binary: string, file: string, workDir: string): PmacctdRun {
  const configPath = join(workDir, 'pmacctd.conf');
  const csvPath = join(workDir, 'pmacctd.csv');
  const config = [
    `pcap_savefile: ${file}`,
    'pcap_savefile_wait: false',
    'pcap_savefile_delay: 1',
    'aggregate: src_host, dst_host, src_port, dst_port, proto',
    'plugins: print',
    'print_output: csv',
    `print_output_file: ${csvPath}`,
    'print_refresh_time: 3600',
    `plugin_pipe_size: ${PMACCTD_PIPE_SIZE}`,
    `plugin_buffer_size: ${PMACCTD_BUFFER_SIZE}`,
    '',
  ].join('\n');
  writeFileSync(configPath, config);
  rmSync(csvPath, { force: true });
  const args = ['-f', configPath];
  const run = runTimed(binary, args);
  if (run.exitCode !== 0) throw new Error(`pmacctd exited with ${run.exitCode}: ${run.stderr}`);
  const { rows, packets, bytes } = sumPmacctCsv(csvPath);
  return { ...run, commandLine: [binary, ...args].join(' '), rows, packets, bytes, config };
}

/** Rows, summed PACKETS and BYTES of a pmacct print-plugin CSV (columns found by name). */
export function sumPmacctCsv(path: string): { rows: number; packets: number; bytes: number } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { rows: 0, packets: 0, bytes: 0 };
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines.length === 0) return { rows: 0, packets: 0, bytes: 0 };
  const header = lines[0].split(',');
  const packetsAt = header.indexOf('PACKETS');
  const bytesAt = header.indexOf('BYTES');
  let packets = 0;
  let bytes = 0;
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(',');
    packets += Number(cells[packetsAt]);
    bytes += Number(cells[bytesAt]);
  }
  return { rows: lines.length - 1, packets, bytes };
}
