/**
 * `flowlogs agent` as an operator runs it: --help, --check on good and bad config files (each source
 * tried for real with tcpdump, the control plane asked with the key), and one-line errors. Also
 * `flowlogs replay` refusing a read-only key.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoCapture } from '@flowlogs/packet/demo-capture';
import { CLI, closedPort, flowlogs, lines } from './support/cli.js';
import { startStack, until, type Stack } from './support/stack.js';

describe('flowlogs agent', () => {
  let stack: Stack;
  let dir: string;
  let env: Record<string, string>;
  let readonlyKey: string;
  let subnetId: string;
  let knownEni: string;
  let pcap: string;

  beforeAll(async () => {
    stack = await startStack();
    dir = mkdtempSync(join(tmpdir(), 'agent-command-'));
    pcap = join(dir, 'demo.pcap');
    writeFileSync(pcap, demoCapture(1_700_000_000));
    const vpcId = (await stack.api('POST', '/v1/vpcs', { name: 'hosts', cidrBlock: '10.20.0.0/16' })).body.id;
    subnetId = (await stack.api('POST', '/v1/subnets', { vpcId, name: 'a', cidrBlock: '10.20.0.0/24' })).body.id;
    knownEni = (await stack.api('POST', '/v1/network-interfaces', { subnetId, name: 'known', primaryIp: '10.20.0.9' }))
      .body.id;
    readonlyKey = (await stack.api('POST', '/v1/api-keys', { role: 'readonly', name: 'viewer' })).body.key;
    env = { ...stack.env, FLOWLOGS_API_URL: stack.url, METRICS_PORT: '0', LOG_LEVEL: 'info' };
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function configFile(name: string, content: unknown): string {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }

  it('--help says how to run it', async () => {
    const run = await flowlogs(['agent', '--help'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('usage: flowlogs agent --config FILE [--check] [--debug]');
    expect(run.stdout).toContain('--check');
  });

  it('--check passes on a good file: every source opens, the API answers with the key', async () => {
    const path = configFile('good.json', {
      agentId: 'host-good',
      enis: [
        { id: 'eni-good1', subnetId, primaryIp: '10.20.0.5', source: { type: 'file', path: pcap } },
        { id: knownEni, source: { type: 'live', interface: 'lo' } },
      ],
    });
    const run = await flowlogs(['agent', '--config', path, '--check'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toEqual([
      `ok: ${path}: 2 ENIs`,
      `ok: eni-good1: file ${pcap} can be read`,
      `ok: ${knownEni}: interface lo can be read`,
      expect.stringMatching(new RegExp(`^ok: control plane at ${stack.url} answers: account \\S+, admin key$`)),
    ]);
  });

  it('--check on a bad file: one line per problem, naming the field, exit 1', async () => {
    const path = configFile('bad.json', {
      enis: [
        { id: 'eni-a1', source: { type: 'live' } },
        { id: 'ENI_B', source: { type: 'file', path: '/x' } },
      ],
      extra: 1,
    });
    const run = await flowlogs(['agent', '--config', path, '--check'], env);
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      `problem: ${path}: enis.0.source.interface: Invalid input: expected string, received undefined`,
      `problem: ${path}: enis.1.id: an ENI id such as eni-1a2b3c4d`,
      `problem: ${path}: (top level): Unrecognized key: "extra"`,
    ]);
    const notJson = await flowlogs(['agent', '--config', configFile('broken.json', '{"enis": ['), '--check'], env);
    expect(notJson.code).toBe(1);
    expect(lines(notJson.stderr)).toEqual([expect.stringMatching(/^problem: .*broken\.json: not JSON: /)]);
  });

  it('--check tries each source and the key for real', async () => {
    const path = configFile('host.json', {
      enis: [
        // The first three register themselves (subnetId, primaryIp); the last must be known to the control plane.
        { id: 'eni-nodev', subnetId, primaryIp: '10.20.0.11', source: { type: 'live', interface: 'nosuch0' } },
        {
          id: 'eni-nons',
          subnetId,
          primaryIp: '10.20.0.12',
          source: { type: 'nflog', groups: [7], netns: 'flowlogs-no-such-ns' },
        },
        {
          id: 'eni-nofile',
          subnetId,
          primaryIp: '10.20.0.13',
          source: { type: 'file', path: join(dir, 'missing.pcap') },
        },
        { id: 'eni-unknown9', source: { type: 'file', path: pcap } },
      ],
    });
    const run = await flowlogs(['agent', '--config', path, '--check'], env);
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      expect.stringMatching(
        /^problem: eni-nodev: tcpdump -i nosuch0 .* exited with 1: tcpdump: nosuch0: No such device exists/,
      ),
      expect.stringMatching(
        /^problem: eni-nons: ip netns exec flowlogs-no-such-ns tcpdump .*Cannot open network namespace "flowlogs-no-such-ns"/,
      ),
      `problem: eni-nofile: cannot read ${join(dir, 'missing.pcap')}: ENOENT`,
      expect.stringMatching(
        new RegExp(`^problem: eni-unknown9: control plane at ${stack.url} answered 404 for ENI eni-unknown9: `),
      ),
    ]);
    const readonly = await flowlogs(['agent', '--config', path, '--check'], { ...env, FLOWLOGS_API_KEY: readonlyKey });
    expect(lines(readonly.stderr).at(-1)).toMatch(
      /^problem: FLOWLOGS_API_KEY is a read-only key of account \S+: writing packets needs an agent key/,
    );
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const noApi = await flowlogs(['agent', '--config', path, '--check'], { ...env, FLOWLOGS_API_URL: closed });
    expect(lines(noApi.stderr).at(-1)).toBe(`problem: control plane at ${closed} did not answer (ECONNREFUSED)`);
  });

  it('errors are one line without a stack, unless --debug', async () => {
    const missing = await flowlogs(['agent', '--config', join(dir, 'none.json')], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`flowlogs agent: cannot read ${join(dir, 'none.json')}: ENOENT\n`);
    const path = configFile('one.json', { enis: [{ id: knownEni, source: { type: 'file', path: pcap } }] });
    const readonly = await flowlogs(['agent', '--config', path], { ...env, FLOWLOGS_API_KEY: readonlyKey });
    expect(readonly.code).toBe(1);
    expect(lines(readonly.stderr)).toEqual([
      expect.stringMatching(
        /^flowlogs agent: FLOWLOGS_API_KEY is a read-only key of account \S+: writing packets needs an agent key/,
      ),
    ]);
    const badEnv = await flowlogs(['agent', '--config', path], { ...env, METRICS_PORT: 'many' });
    expect(badEnv.stderr).toBe(
      'flowlogs agent: invalid configuration: METRICS_PORT: Invalid input: expected number, received NaN\n',
    );
    const debug = await flowlogs(['agent', '--config', join(dir, 'none.json'), '--debug'], env);
    expect(debug.code).toBe(1);
    expect(lines(debug.stderr)[0]).toBe(`flowlogs agent: cannot read ${join(dir, 'none.json')}: ENOENT`);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('runs: registers and binds its ENI, logs it and its source, its packets become records, stops on SIGTERM', async () => {
    const logset = (await stack.api('POST', '/v1/logsets', { name: 'run' })).body.id;
    const topic = (await stack.api('POST', '/v1/log-topics', { logsetId: logset, name: 'run' })).body.id;
    // The ENI as the agent will register it (its PUT then finds it), so that the flow log is there before its packets.
    await stack.api('PUT', '/v1/network-interfaces/eni-run1', { subnetId, name: 'eni-run1', primaryIp: '10.20.0.30' });
    const flowLog = (
      await stack.api('POST', '/v1/flow-logs', {
        name: 'run',
        resourceType: 'NETWORKINTERFACE',
        resourceId: 'eni-run1',
        trafficType: 'ALL',
        logTopicId: topic,
        aggregationInterval: 60,
      })
    ).body;
    const agentKey = (await stack.api('POST', '/v1/api-keys', { role: 'agent', name: 'host-run' })).body.key;
    const path = configFile('run.json', {
      agentId: 'host-run',
      enis: [{ id: 'eni-run1', subnetId, primaryIp: '10.20.0.30', source: { type: 'file', path: pcap } }],
    });
    const child = spawn(process.execPath, [CLI, 'agent', '--config', path], {
      env: { ...process.env, ...env, FLOWLOGS_API_KEY: agentKey },
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const records = await until(
        "the agent's records",
        async () => {
          const { rows } = await stack.db.pool.query(
            'SELECT DISTINCT account_id, interface_id FROM flow_records WHERE flow_log_id = $1',
            [flowLog.id],
          );
          return rows.length ? rows : undefined;
        },
        90_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; the agent logged: ${stdout}`);
      });
      expect(records).toEqual([{ account_id: flowLog.accountId, interface_id: 'eni-run1' }]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const logged = lines(stdout).map((line) => JSON.parse(line));
    expect(logged.find((l) => l.msg === 'ENI registered')).toMatchObject({
      level: 30,
      eni: 'eni-run1',
      agent: 'host-run',
      account: flowLog.accountId,
      subnet: subnetId,
    });
    expect(logged.find((l) => l.msg === 'capture source started')).toMatchObject({
      level: 30,
      eni: 'eni-run1',
      source: expect.stringContaining(pcap),
    });
    expect((await stack.api('GET', '/v1/network-interfaces/eni-run1')).body).toMatchObject({ agentId: 'host-run' });
  }, 150_000);

  it('flowlogs replay refuses a read-only key in one line', async () => {
    const run = await flowlogs(['replay', '--pcap', pcap, '--eni', knownEni], {
      ...env,
      FLOWLOGS_API_KEY: readonlyKey,
    });
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      expect.stringMatching(
        /^flowlogs replay: FLOWLOGS_API_KEY is a read-only key of account \S+: writing packets needs an agent key/,
      ),
    ]);
  });
});
