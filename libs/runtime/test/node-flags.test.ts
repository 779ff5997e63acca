/** The image's entry point runs each service with the Node flags SERVICE_NODE_FLAGS lists, as `flowlogs up` and the benchmarks do. */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS, type ServiceName } from '../src/index.js';

const ENTRYPOINT = fileURLToPath(new URL('../../../deploy/docker/entrypoint.sh', import.meta.url));

/** What entrypoint.sh runs for `service`: its own script, with /app made a temporary directory and `node` one that prints its arguments. */
function entrypointRuns(service: ServiceName): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'entrypoint-'));
  const node = join(dir, 'node');
  writeFileSync(node, '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n');
  chmodSync(node, 0o755);
  const script = join(dir, 'entrypoint.sh');
  const text = execFileSync('sed', [`s#cd /app#cd ${dir}#`, ENTRYPOINT], { encoding: 'utf8' });
  writeFileSync(script, text);
  return execFileSync('sh', [script, service], { encoding: 'utf8', env: { PATH: `${dir}:${process.env.PATH}` } })
    .trim()
    .split('\n');
}

describe("the image's entry point", () => {
  it.each(Object.keys(SERVICE_NODE_FLAGS) as ServiceName[])('runs %s with its Node flags', (service) => {
    expect(entrypointRuns(service)).toEqual([
      ...SERVICE_NODE_FLAGS[service],
      '--import',
      'tsx',
      `services/${service}/src/main.ts`,
    ]);
  });
});
