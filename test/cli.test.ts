/**
 * `flowlogs` as a new user meets it (issue 14): every command answers --help without doing anything,
 * failures are one line naming the cause (a stack only with --debug), a file that is not a capture is
 * an error, and `replay --speed max --rebase` stores the capture's records at now, through the real pipeline.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '@flowlogs/contracts';
import { buildEthernetFrame, buildIpPacket, writePcap } from '@flowlogs/packet';
import { closedPort, flowlogs, lines } from './support/cli.js';
import { startStack, TEST_API_KEY, until, type Stack } from './support/stack.js';

const README = join(import.meta.dirname, '..', 'README.md');
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

describe('flowlogs --help', () => {
  it('answers for every command (exit 0, its own usage) and does nothing else', async () => {
    const top = await flowlogs(['help'], {});
    expect(top.code).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z-]+)(?: |$)/gm)].map((m) => m[1]);
    expect(commands).toEqual(expect.arrayContaining(['records', 'replay', 'agent', 'up']));
    const cache = mkdtempSync(join(tmpdir(), 'flowlogs-help-'));
    const port = await closedPort();
    // What each command would touch, were it run: a fresh cache folder, an API port, a database, a broker.
    const env = {
      FLOWLOGS_CACHE_DIR: cache,
      HTTP_PORT: String(port),
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/flowlogs_help_must_not_exist',
      KAFKA_BROKERS: `127.0.0.1:${await closedPort()}`,
      FLOWLOGS_API_URL: `http://127.0.0.1:${await closedPort()}`,
    };
    try {
      for (const command of commands) {
        for (const help of ['--help', '-h']) {
          if (command === 'agent' && help === '-h') continue; // the agent's own options: --help only
          const started = Date.now();
          const run = await flowlogs([command, help], env, 20_000);
          expect(run, `${command} ${help}`).toMatchObject({ code: 0, stderr: '' });
          expect(run.stdout, command).toMatch(new RegExp(`^usage: flowlogs ${command}`));
          expect(Date.now() - started, command).toBeLessThan(15_000);
        }
      }
      expect(readdirSync(cache)).toEqual([]);
      expect(await listening(port)).toBe(false);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('flowlogs records', () => {
  it('refuses a file that is not a capture, in one line, exit 1; the stack only with --debug', async () => {
    const run = await flowlogs(['records', '--pcap', README], {});
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      `flowlogs records: ${README}: not a pcap or pcapng file (magic 0x6c662023) at byte offset 0`,
    ]);
    expect(run.stdout).toBe('');
    const debug = await flowlogs(['records', '--pcap', README, '--debug'], {});
    expect(debug.code).toBe(1);
    expect(lines(debug.stderr)[0]).toBe(lines(run.stderr)[0]);
    expect(debug.stderr).toMatch(/\n {4}at requireCapture /);
    const missing = await flowlogs(['records', '--pcap', '/nonexistent/x.pcap'], {});
    expect(missing.code).toBe(1);
    expect(lines(missing.stderr)).toEqual([
      "flowlogs records: ENOENT: no such file or directory, open '/nonexistent/x.pcap'",
    ]);
  });
});

describe('flowlogs replay', () => {
  let stack: Stack;
  let dir: string;
  let env: Record<string, string>;
  let eniId: string;
  let otherEni: string;
  let logTopicId: string;
  let capture: string;
  const ENI_IP = '10.30.0.5';
  // Four packets of 2005 and two of 2017, as dns.pcap has them: years apart.
  const packets = [
    [1_112_172_654, ENI_IP, '192.0.2.53', 32_795, 53],
    [1_112_172_654, '192.0.2.53', ENI_IP, 53, 32_795],
    [1_112_172_695, ENI_IP, '192.0.2.53', 32_795, 53],
    [1_112_172_695, '192.0.2.53', ENI_IP, 53, 32_795],
    [1_484_673_025, ENI_IP, '198.51.100.7', 47_255, 53],
    [1_484_673_025, '198.51.100.7', ENI_IP, 53, 47_255],
  ] as const;

  beforeAll(async () => {
    stack = await startStack({ FLOWLOGS_IDLE_CLOSE_MS: '1000' });
    dir = mkdtempSync(join(tmpdir(), 'flowlogs-replay-'));
    capture = join(dir, 'years.pcap');
    writeFileSync(
      capture,
      writePcap(
        packets.map(([tsSec, src, dst, srcPort, dstPort]) => ({
          tsSec,
          frame: buildEthernetFrame(buildIpPacket({ src, dst, protocol: 'udp', srcPort, dstPort })),
        })),
      ),
    );
    const created = async (path: string, body: unknown, key?: string) => {
      const res = await stack.api('POST', path, body, key);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body;
    };
    const vpcId = (await created('/v1/vpcs', { name: 'replay', cidrBlock: '10.30.0.0/16' })).id;
    const subnetId = (await created('/v1/subnets', { vpcId, name: 'a', cidrBlock: '10.30.0.0/24' })).id;
    eniId = (await created('/v1/network-interfaces', { subnetId, name: 'dns', primaryIp: ENI_IP })).id;
    const logsetId = (await created('/v1/logsets', { name: 'replay' })).id;
    logTopicId = (await created('/v1/log-topics', { logsetId, name: 'replay' })).id;
    await created('/v1/flow-logs', {
      name: 'replay',
      resourceType: 'NETWORKINTERFACE',
      resourceId: eniId,
      trafficType: 'ALL',
      logTopicId,
      aggregationInterval: 10,
    });
    const otherKey = (await created('/v1/accounts', { name: 'other' })).adminKey;
    const otherVpc = (await created('/v1/vpcs', { name: 'o', cidrBlock: '10.30.0.0/16' }, otherKey)).id;
    const otherSubnet = (
      await created('/v1/subnets', { vpcId: otherVpc, name: 'o', cidrBlock: '10.30.0.0/24' }, otherKey)
    ).id;
    otherEni = (
      await created('/v1/network-interfaces', { subnetId: otherSubnet, name: 'o', primaryIp: ENI_IP }, otherKey)
    ).id;
    env = { ...stack.env, FLOWLOGS_API_URL: stack.url, LOG_LEVEL: 'info' };
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('fails in one line naming the cause: key, ENI, file, API; exit 1, a stack only with --debug', async () => {
    const api = stack.url;
    const down = `http://127.0.0.1:${await closedPort()}`;
    const cases: [string, string[], Record<string, string>, RegExp][] = [
      ['no key', ['--pcap', capture, '--eni', eniId], { FLOWLOGS_API_KEY: '' }, /^FLOWLOGS_API_KEY is not set/],
      [
        'a wrong key',
        ['--pcap', capture, '--eni', eniId],
        { FLOWLOGS_API_KEY: 'not-a-key' },
        new RegExp(`^control plane at ${api} answered 401 .*unknown API key$`),
      ],
      [
        'an unknown ENI',
        ['--pcap', capture, '--eni', 'eni-nope'],
        {},
        new RegExp(`^control plane at ${api} answered 404 for ENI eni-nope: network interface eni-nope not found$`),
      ],
      [
        "another account's ENI",
        ['--pcap', capture, '--eni', otherEni],
        {},
        new RegExp(
          `^control plane at ${api} answered 404 for ENI ${otherEni}: network interface ${otherEni} not found$`,
        ),
      ],
      [
        'a missing file',
        ['--pcap', join(dir, 'missing.pcap'), '--eni', eniId],
        {},
        /^ENOENT: no such file or directory, open '.*missing\.pcap'$/,
      ],
      ['a file that is not a capture', ['--pcap', README, '--eni', eniId], {}, /README\.md: not a pcap or pcapng file/],
      [
        'the API down',
        ['--pcap', capture, '--eni', eniId],
        { FLOWLOGS_API_URL: down },
        new RegExp(`^control plane at ${down} did not answer \\(ECONNREFUSED\\)$`),
      ],
    ];
    for (const [what, args, extra, cause] of cases) {
      const run = await flowlogs(['replay', ...args], { ...env, ...extra });
      expect(run.code, what).toBe(1);
      const [line, ...more] = lines(run.stderr);
      expect(more, `${what}: ${run.stderr}`).toEqual([]);
      expect(line, what).toMatch(/^flowlogs replay: /);
      expect(line.replace('flowlogs replay: ', ''), what).toMatch(cause);
      const debug = await flowlogs(['replay', ...args, '--debug'], { ...env, ...extra });
      expect(lines(debug.stderr)[0], what).toBe(line);
      expect(debug.stderr, what).toMatch(/\n {4}at /);
    }
  }, 120_000);

  it("--speed max --rebase stores the capture's records at now, however old and spread its packets", async () => {
    const before = Math.floor(Date.now() / 1000);
    const run = await flowlogs(['replay', '--pcap', capture, '--eni', eniId, '--speed', 'max', '--rebase'], {
      ...env,
      FLOWLOGS_API_KEY: TEST_API_KEY,
    });
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(lines(run.stderr)).toEqual([`replayed 6 frames for ${eniId}`]);
    const records = await until(
      'the replayed records',
      async () => {
        const res = await stack.api(
          'GET',
          `/v1/log-topics/${logTopicId}/records?from=${before - 60}&to=${before + 600}`,
        );
        const found = res.body.records as FlowRecord[];
        return found.reduce((n, r) => n + (r.packets ?? 0), 0) === packets.length ? found : undefined;
      },
      60_000,
    );
    expect(records.every((r) => r.logStatus === 'OK')).toBe(true);
    for (const r of records) {
      expect(r.start!).toBeGreaterThanOrEqual(before);
      expect(r.start!).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    }
    // Each flow of the capture once per window it landed in: four directions of two conversations.
    const flows = new Set(records.map((r) => `${r.srcaddr}:${r.srcport}>${r.dstaddr}:${r.dstport}`));
    expect([...flows].sort()).toEqual([
      `${ENI_IP}:32795>192.0.2.53:53`,
      `${ENI_IP}:47255>198.51.100.7:53`,
      `192.0.2.53:53>${ENI_IP}:32795`,
      `198.51.100.7:53>${ENI_IP}:47255`,
    ]);
    // Nothing anywhere else in time: no record in the capture's own years, none SKIPDATA.
    const old = await stack.api('GET', `/v1/log-topics/${logTopicId}/records?from=1000000000&to=${before - 60}`);
    expect(old.body.records).toEqual([]);
    expect(existsSync(capture)).toBe(true);
  }, 90_000);
});
