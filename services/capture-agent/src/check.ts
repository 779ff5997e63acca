/**
 * `flowlogs agent --check`: whether this host can run the agent as its config file says, one line per
 * problem: the file, every capture source (tried for real: tcpdump must start listening on the
 * interface or nflog group, in the network namespace, with this process's privileges), nft for
 * sources that read nftables' NFLOG groups, and the control plane answering with the key.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import type { CaptureAgentConfig, EniSource } from './config.js';
import { parseAgentFile } from './config.js';
import { fetchEni, requireWritingKey } from './inventory.js';
import { tcpdumpSource, type TcpdumpOptions } from './sources/live-source.js';

/** How long tcpdump may take to say it listens. */
const LISTEN_TIMEOUT_MS = 5000;

/** The problems found (none: the agent can start), and what was found fine, each one line. */
export interface CheckResult {
  problems: string[];
  ok: string[];
}

export async function checkAgent(path: string, config: CaptureAgentConfig): Promise<CheckResult> {
  const result: CheckResult = { problems: [], ok: [] };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    result.problems.push(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return result;
  }
  const parsed = parseAgentFile(text, path);
  if ('problems' in parsed) {
    result.problems.push(...parsed.problems);
    return result;
  }
  const { enis } = parsed.file;
  result.ok.push(`${path}: ${enis.length} ENI${enis.length === 1 ? '' : 's'}`);
  if (enis.some((e) => nflogGroups(e.source)) && !answers('nft', ['--version'])) {
    result.problems.push(
      'nft (nftables) not found on the PATH: nflog sources and live verdicts read the verdicts of nftables rules',
    );
  }
  for (const eni of enis) {
    const problem = await checkSource(eni);
    if (problem) result.problems.push(`${eni.id}: ${problem}`);
    else result.ok.push(`${eni.id}: ${describe(eni.source)} can be read`);
  }
  await checkApi(config, enis, result);
  return result;
}

function answers(command: string, args: string[]): boolean {
  const run = spawnSync(command, args, { stdio: 'ignore' });
  return !run.error && run.status === 0;
}

/** The NFLOG groups a source reads: an nflog source's, or a live source's verdicts. */
function nflogGroups(source: EniSource['source']): number[] | undefined {
  if (source.type === 'nflog') return source.groups;
  return source.type === 'live' ? source.verdicts?.nflogGroups : undefined;
}

function describe(source: EniSource['source']): string {
  const where = 'netns' in source && source.netns ? ` in netns ${source.netns}` : '';
  switch (source.type) {
    case 'file':
      return `file ${source.path}`;
    case 'live':
      return `interface ${source.interface}${source.verdicts ? ` with the drops of nflog groups ${source.verdicts.nflogGroups.join(', ')}` : ''}${where}`;
    case 'nflog':
      return `nflog groups ${source.groups.join(', ')}${where}`;
  }
}

async function checkSource(eni: EniSource): Promise<string | undefined> {
  const s = eni.source;
  switch (s.type) {
    case 'file':
      try {
        accessSync(s.path, constants.R_OK);
        return undefined;
      } catch (err) {
        return `cannot read ${s.path}: ${(err as NodeJS.ErrnoException).code}`;
      }
    case 'live':
      return (
        (await tryCapture({ interface: s.interface, netns: s.netns, filter: s.filter, snaplen: s.snaplen })) ??
        tryGroups(s.verdicts?.nflogGroups ?? [], s.netns)
      );
    case 'nflog':
      return tryGroups(s.groups, s.netns);
  }
}

async function tryGroups(groups: number[], netns: string | undefined): Promise<string | undefined> {
  for (const group of groups) {
    const problem = await tryCapture({ interface: `nflog:${group}`, netns });
    if (problem) return problem;
  }
  return undefined;
}

/** Starts tcpdump as the agent would and stops it once it listens; its error when it cannot. */
async function tryCapture(options: TcpdumpOptions): Promise<string | undefined> {
  const abort = new AbortController();
  let listening = false;
  const source = tcpdumpSource({
    ...options,
    onListening: () => {
      listening = true;
      abort.abort();
    },
  });
  const timer = setTimeout(() => abort.abort(), LISTEN_TIMEOUT_MS);
  try {
    for await (const _ of source.chunks(abort.signal)) if (listening) break;
  } catch (err) {
    return (err as Error).message;
  } finally {
    clearTimeout(timer);
  }
  return listening
    ? undefined
    : `tcpdump on ${options.interface} did not start listening within ${LISTEN_TIMEOUT_MS / 1000} s`;
}

async function checkApi(config: CaptureAgentConfig, enis: EniSource[], result: CheckResult): Promise<void> {
  const { FLOWLOGS_API_URL: url, FLOWLOGS_API_KEY: key } = config;
  try {
    const account = await requireWritingKey(url, key);
    result.ok.push(`control plane at ${url} answers: account ${account.id}, ${account.role} key`);
  } catch (err) {
    result.problems.push((err as Error).message);
    return;
  }
  // ENIs the agent does not register itself must be known to the control plane already.
  for (const eni of enis.filter((e) => !(e.subnetId && e.primaryIp))) {
    await fetchEni(url, key, eni.id).catch((err: Error) => result.problems.push(`${eni.id}: ${err.message}`));
  }
}
