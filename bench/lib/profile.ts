/**
 * A short text summary of a V8 .cpuprofile (from `node --cpu-prof`): self time
 * per function (name, file:line) and per source file, hottest first.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

function shortUrl(url: string): string {
  const at = url.search(/\/(libs|services|bench|cli)\//);
  if (at >= 0) return url.slice(at + 1);
  return url.replace(/^file:\/\//, '').replace(/^node:/, 'node:') || '(native)';
}

export function summarizeProfile(path: string, top = 20): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const totalSamples = profile.samples.length || 1;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = shortUrl(url);
    const key = `${functionName || '(anonymous)'}  ${file}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + hits);
    byFile.set(file, (byFile.get(file) ?? 0) + hits);
  }
  const pct = (n: number) => `${((100 * n) / totalSamples).toFixed(1).padStart(5)}%`;
  const lines = [
    `self time, ${totalSamples} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(2)} s:`,
  ];
  for (const [key, hits] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`  ${pct(hits)}  ${key}`);
  lines.push('by file:');
  for (const [file, hits] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 10))
    lines.push(`  ${pct(hits)}  ${file}`);
  return lines.join('\n');
}
