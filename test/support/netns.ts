/** What the tests that make network namespaces (hosts, veths, nftables) share. */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

/** Why namespaces cannot be made here (a tool missing, no right), or undefined when they can: probed with a throwaway one. */
export function netnsSkipReason(probe: string): string | undefined {
  for (const tool of ['ip', 'tcpdump', 'nft', 'ping']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  } catch (err) {
    return `ip netns add is not permitted: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`;
  }
  return undefined;
}

/** A command that must succeed. */
export const sh = (...cmd: string[]) => execFileSync(cmd[0], cmd.slice(1), { stdio: 'pipe' });

/** A command in a namespace; a failed one (a refused or dropped connection) is not an error here. */
export const inNs = (ns: string, ...cmd: string[]) =>
  promisify(execFile)('ip', ['netns', 'exec', ns, ...cmd]).catch(() => undefined);

/** Whether the interface in the namespace is up (a veth is once both ends are). */
export const linkUp = (ns: string, link: string) =>
  /state UP/.test(execFileSync('ip', ['-n', ns, '-o', 'link', 'show', link], { encoding: 'utf8' }));
