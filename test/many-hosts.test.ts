/**
 * Many hosts, one pipeline: three network namespaces on one bridge stand for three hosts, each with
 * its own `flowlogs agent` process (in the root namespace, capturing inside the host's
 * namespace) for its own ENI, with the verdicts of the host's firewall; the control plane, aggregator
 * and publisher run once, in this process. Host 1 pings host 2, host 1 and host 3 have a TCP exchange,
 * and host 2's firewall drops what it sends to port 22. Each ENI's flow log must hold exactly what
 * crossed its interface (the ping counted, the TCP exchange and the drops as nftables' counters in
 * the hosts counted them) and the drop as REJECT on host 2's ENI only. Then host 2's agent is killed with SIGKILL during a ping and started
 * again: host 1's records go on exact, host 2's ENI gets SKIPDATA for the gap and records after it.
 * Needs root (ip netns), tcpdump, nft and ping: skipped, saying why, where they are not there.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '@flowlogs/contracts';
import { inNs, linkUp, netnsSkipReason, sh } from './support/netns.js';
import { startStack, TEST_API_KEY, until, type Stack } from './support/stack.js';

const CLI = join(import.meta.dirname, '..', 'cli', 'bin.mjs');
const id = randomBytes(3).toString('hex');
const SWITCH = `flsw-${id}`;
const WAIT_MS = 45_000;

interface Host {
  n: number;
  ns: string;
  veth: string;
  ip: string;
  eni: string;
  config: string;
  agent?: ChildProcess;
  logs: Array<{ msg: string; eni?: string }>;
  topicId?: string;
}

const hosts: Host[] = [1, 2, 3].map((n) => ({
  n,
  ns: `flh${n}-${id}`,
  veth: `h${n}${id}`,
  ip: `10.16.1.${10 + n}`,
  eni: `eni-${id}h${n}`,
  config: '',
  logs: [],
}));
const [h1, h2, h3] = hosts;

const skipReason = netnsSkipReason(`flprobe-${id}`);
if (skipReason) console.warn(`many-hosts test skipped: ${skipReason}`);
const inHost = (h: Host, ...cmd: string[]) => inNs(h.ns, ...cmd);

/** Host 2's firewall: what it sends to port 22 is dropped, and logged to NFLOG group 2. */
const FIREWALL_H2 = `
table inet sg {
  chain output {
    type filter hook output priority 0; policy accept;
    tcp dport 22 counter log prefix "drop" group 2 drop
  }
}`;
/** Counters on host 3 of the TCP exchange each way, as netfilter sees the packets (IP lengths). */
const COUNTERS_H3 = `
table inet acct {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 8080 counter
  }
  chain output {
    type filter hook output priority 0; policy accept;
    tcp sport 8080 counter
  }
}`;

/** [packets, bytes] that the nftables rule `match … counter` counted in the host. */
function counter(h: Host, match: string): [number, number] {
  const table = execFileSync('ip', ['netns', 'exec', h.ns, 'nft', 'list', 'ruleset'], { encoding: 'utf8' });
  const m = new RegExp(`${match} counter packets (\\d+) bytes (\\d+)`).exec(table);
  if (!m) throw new Error(`no counter "${match}" in host ${h.n}:\n${table}`);
  return [Number(m[1]), Number(m[2])];
}

const sum = (rs: FlowRecord[], field: 'packets' | 'bytes') => rs.reduce((n, r) => n + (r[field] ?? 0), 0);
/** Traffic between the hosts (not IPv6 link-local chatter of the interfaces). */
const betweenHosts = (r: Pick<FlowRecord, 'srcaddr' | 'dstaddr'>) =>
  !!r.srcaddr?.startsWith('10.16.1.') && !!r.dstaddr?.startsWith('10.16.1.');

/** Records summed per flow key over windows: what must agree whatever the window boundaries. */
function byFlow(
  rs: Array<
    Pick<FlowRecord, 'srcaddr' | 'dstaddr' | 'srcport' | 'dstport' | 'protocol' | 'action' | 'packets' | 'bytes'>
  >,
): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const r of rs) {
    const key = `${r.action} ${r.protocol} ${r.srcaddr}:${r.srcport} > ${r.dstaddr}:${r.dstport}`;
    const [p, b] = out[key] ?? [0, 0];
    out[key] = [p + (r.packets ?? 0), b + (r.bytes ?? 0)];
  }
  return out;
}

describe.skipIf(skipReason !== undefined)(
  `many hosts: three namespaces, an agent process each, one pipeline${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let stack: Stack;
    let dir: string;
    let agentEnv: Record<string, string>;
    const since = Math.floor(Date.now() / 1000) - 60;

    function startAgent(h: Host): Promise<void> {
      h.logs = [];
      const child = spawn(process.execPath, [CLI, 'agent', '--config', h.config], {
        env: { ...process.env, ...agentEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      h.agent = child;
      let partial = '';
      child.stdout!.setEncoding('utf8').on('data', (text: string) => {
        const lines = (partial + text).split('\n');
        partial = lines.pop()!;
        for (const line of lines) {
          try {
            h.logs.push(JSON.parse(line));
          } catch {
            // not a log line
          }
        }
      });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (text: string) => {
        stderr += text;
      });
      // The interface's tcpdump and the one of NFLOG group 2.
      return until(
        `host ${h.n}'s agent listening`,
        async () => {
          if (child.exitCode !== null) throw new Error(`host ${h.n}'s agent exited with ${child.exitCode}: ${stderr}`);
          return h.logs.filter((l) => l.msg === 'capture listening').length >= 2 ? true : undefined;
        },
        WAIT_MS,
      ).then(() => undefined);
    }

    async function stopAgent(h: Host, signal: NodeJS.Signals): Promise<void> {
      const child = h.agent;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    }

    /** The log topic's records of the ENI, between the hosts' addresses, once `done` says they are all there. */
    const records = (h: Host, done: (rs: FlowRecord[]) => boolean) =>
      until(
        `records of host ${h.n}`,
        async () => {
          const res = await stack.api(
            'GET',
            `/v1/log-topics/${h.topicId}/records?from=${since}&to=${since + 3600}&limit=1000`,
          );
          expect(res.status).toBe(200);
          return done(res.body.records) ? (res.body.records as FlowRecord[]) : undefined;
        },
        WAIT_MS,
      );

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'many-hosts-'));
      sh('ip', 'netns', 'add', SWITCH);
      sh('ip', '-n', SWITCH, 'link', 'add', 'br0', 'type', 'bridge');
      sh('ip', '-n', SWITCH, 'link', 'set', 'br0', 'up');
      for (const h of hosts) {
        sh('ip', 'netns', 'add', h.ns);
        sh('ip', 'link', 'add', h.veth, 'netns', h.ns, 'type', 'veth', 'peer', 'name', `s${h.n}${id}`, 'netns', SWITCH);
        sh('ip', '-n', SWITCH, 'link', 'set', `s${h.n}${id}`, 'master', 'br0');
        sh('ip', '-n', SWITCH, 'link', 'set', `s${h.n}${id}`, 'up');
        sh('ip', '-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', h.veth);
        sh('ip', '-n', h.ns, 'link', 'set', h.veth, 'up');
        sh('ip', '-n', h.ns, 'link', 'set', 'lo', 'up');
      }
      execFileSync('ip', ['netns', 'exec', h2.ns, 'nft', '-f', '-'], {
        input: FIREWALL_H2,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      execFileSync('ip', ['netns', 'exec', h3.ns, 'nft', '-f', '-'], {
        input: COUNTERS_H3,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      for (const h of hosts) {
        await until(`${h.veth} up`, async () => (linkUp(h.ns, h.veth) ? true : undefined), WAIT_MS);
      }

      stack = await startStack({ FLOWLOGS_IDLE_CLOSE_MS: '500', FLOWLOGS_ALLOWED_LATENESS_S: '2' });
      const vpc = await stack.api('POST', '/v1/vpcs', { name: 'fleet', cidrBlock: '10.16.0.0/16' });
      const subnetId = (
        await stack.api('POST', '/v1/subnets', { vpcId: vpc.body.id, name: 'hosts', cidrBlock: '10.16.1.0/24' })
      ).body.id;
      agentEnv = {
        ...stack.env,
        FLOWLOGS_API_URL: stack.url,
        FLOWLOGS_API_KEY: TEST_API_KEY,
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
        FLOWLOGS_HEARTBEAT_MS: '1000',
      };
      for (const h of hosts) {
        h.config = join(dir, `host${h.n}.json`);
        writeFileSync(
          h.config,
          JSON.stringify({
            agentId: `host${h.n}-${id}`,
            enis: [
              {
                id: h.eni,
                subnetId,
                name: `host${h.n}`,
                primaryIp: h.ip,
                source: { type: 'live', interface: h.veth, netns: h.ns, verdicts: { nflogGroups: [2] } },
              },
            ],
          }),
        );
      }
      await Promise.all(hosts.map((h) => startAgent(h)));
      const logset = await stack.api('POST', '/v1/logsets', { name: 'fleet' });
      for (const h of hosts) {
        const topic = await stack.api('POST', '/v1/log-topics', { logsetId: logset.body.id, name: `host${h.n}` });
        const flowLog = await stack.api('POST', '/v1/flow-logs', {
          name: `host${h.n}`,
          resourceType: 'NETWORKINTERFACE',
          resourceId: h.eni,
          trafficType: 'ALL',
          logTopicId: topic.body.id,
          aggregationInterval: 5,
        });
        expect(flowLog.status, JSON.stringify(flowLog.body)).toBe(201);
        h.topicId = topic.body.id;
      }
    }, 120_000);

    afterAll(async () => {
      try {
        await Promise.all(hosts.map((h) => stopAgent(h, 'SIGTERM')));
        await stack?.stop();
      } finally {
        for (const ns of [...hosts.map((h) => h.ns), SWITCH]) {
          try {
            sh('ip', 'netns', 'del', ns);
          } catch {
            // not made (beforeAll failed early)
          }
        }
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    });

    it("gives each host's ENI exactly what crossed its interface, and the drop as REJECT on the dropping host only", async () => {
      const server = spawn(
        'ip',
        [
          'netns',
          'exec',
          h3.ns,
          process.execPath,
          '-e',
          `require('net').createServer((s) => s.pipe(s)).listen(8080, '${h3.ip}', () => console.log('up'))`,
        ],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
      await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
      await Promise.all([
        inHost(h1, 'ping', '-c', '5', '-i', '0.2', h2.ip),
        // A TCP exchange: 3000 bytes to host 3 and back, then both close.
        inHost(
          h1,
          process.execPath,
          '-e',
          `const s = require('net').connect(8080, '${h3.ip}', () => s.end('x'.repeat(3000))); s.resume(); s.on('close', () => process.exit(0))`,
        ),
        ...[1, 2].map(() => inHost(h2, 'timeout', '2', 'bash', '-c', `echo > /dev/tcp/${h3.ip}/22`)),
      ]);
      server.kill();
      const [dropped, droppedBytes] = counter(h2, 'tcp dport 22');
      expect(dropped).toBeGreaterThanOrEqual(2);
      const [tcpIn, tcpInBytes] = counter(h3, 'tcp dport 8080');
      const [tcpOut, tcpOutBytes] = counter(h3, 'tcp sport 8080');
      expect(tcpIn).toBeGreaterThanOrEqual(4);

      const flowsOf = (rs: FlowRecord[]) => byFlow(rs.filter((r) => r.logStatus === 'OK' && betweenHosts(r)));
      const icmp = (from: Host, to: Host) => ({ [`ACCEPT 1 ${from.ip}:0 > ${to.ip}:0`]: [5, 420] });
      const tcpKey = (from: string, to: string) => (k: string) =>
        k.startsWith('ACCEPT 6 ') && k.includes(`${from}:`) && k.includes(`> ${to}:`);
      const done = (rs: FlowRecord[], expectPackets: number) =>
        Object.values(flowsOf(rs)).reduce((n, [p]) => n + p, 0) >= expectPackets;
      // Host 1: the ping out and its replies in; the TCP exchange with host 3, as host 3's firewall counted it.
      const one = flowsOf(await records(h1, (rs) => done(rs, 10 + tcpIn + tcpOut)));
      const two = flowsOf(await records(h2, (rs) => done(rs, 10 + dropped)));
      const three = flowsOf(await records(h3, (rs) => done(rs, tcpIn + tcpOut)));
      await new Promise((r) => setTimeout(r, 3000)); // a duplicate would come within this
      expect(flowsOf(await records(h1, () => true))).toEqual(one);
      expect(flowsOf(await records(h2, () => true))).toEqual(two);
      expect(flowsOf(await records(h3, () => true))).toEqual(three);

      const tcp = (flows: Record<string, [number, number]>, from: Host, to: Host) =>
        Object.entries(flows)
          .filter(([k]) => tcpKey(from.ip, to.ip)(k))
          .map(([, v]) => v);
      for (const flows of [one, three]) {
        expect(tcp(flows, h1, h3)).toEqual([[tcpIn, tcpInBytes]]);
        expect(tcp(flows, h3, h1)).toEqual([[tcpOut, tcpOutBytes]]);
      }
      expect(one).toEqual({
        ...icmp(h1, h2),
        ...icmp(h2, h1),
        ...Object.fromEntries(Object.entries(one).filter(([k]) => k.startsWith('ACCEPT 6 '))),
      });
      expect(Object.keys(one).length).toBe(4);
      expect(Object.keys(three).length).toBe(2);
      // Host 2: the ping in and its replies out; what its firewall dropped on the way out, REJECT, as many as it counted.
      const drops = Object.entries(two).filter(([k]) => k.endsWith(`${h3.ip}:22`));
      expect(drops.every(([k]) => k.startsWith('REJECT 6 '))).toBe(true);
      expect([drops.reduce((n, [, [p]]) => n + p, 0), drops.reduce((n, [, [, b]]) => n + b, 0)]).toEqual([
        dropped,
        droppedBytes,
      ]);
      expect(Object.fromEntries(Object.entries(two).filter(([k]) => !k.endsWith(':22')))).toEqual({
        ...icmp(h1, h2),
        ...icmp(h2, h1),
      });
      // Nowhere ACCEPT: not on host 3 (it never saw them), not on host 1.
      for (const flows of [one, three]) expect(Object.keys(flows).filter((k) => k.endsWith(':22'))).toEqual([]);
    }, 150_000);

    it('kill -9 of one agent during traffic: the others go on, its ENI gets SKIPDATA for the gap and records again after a restart', async () => {
      const before = Math.floor(Date.now() / 1000);
      const ping = inHost(h1, 'ping', '-c', '88', '-i', '0.25', h2.ip); // 22 s
      await new Promise((r) => setTimeout(r, 5000));
      await stopAgent(h2, 'SIGKILL');
      const killedAt = Date.now() / 1000;
      await new Promise((r) => setTimeout(r, 10_000));
      const startedAt = Date.now() / 1000;
      await startAgent(h2);
      const restartedAt = Date.now() / 1000;
      await ping;

      const pings = (rs: FlowRecord[], src: string) =>
        rs.filter((r) => r.protocol === 1 && r.srcaddr === src && r.windowStart >= before - 5);
      // Host 1's agent went on: every echo request out and every reply in, exactly.
      const one = await records(
        h1,
        (rs) => sum(pings(rs, h1.ip), 'packets') >= 88 && sum(pings(rs, h2.ip), 'packets') >= 88,
      );
      expect([sum(pings(one, h1.ip), 'packets'), sum(pings(one, h2.ip), 'packets')]).toEqual([88, 88]);
      expect(one.filter((r) => r.windowStart >= before && r.logStatus !== 'OK')).toEqual([]);

      // Host 2: records before the kill and after the restart, SKIPDATA (how many lost unknown) in between.
      const windowOf = (t: number) => Math.floor(t / 5) * 5;
      const two = await records(
        h2,
        (rs) =>
          rs.some((r) => r.logStatus === 'SKIPDATA') &&
          pings(rs, h1.ip).some((r) => r.windowStart >= windowOf(restartedAt)),
      ).catch(async (err) => {
        const res = await stack.api(
          'GET',
          `/v1/log-topics/${h2.topicId}/records?from=${before - 10}&to=${before + 3600}&limit=1000`,
        );
        console.log(
          killedAt,
          restartedAt,
          JSON.stringify(
            res.body.records.map((r: FlowRecord) => [
              r.windowStart,
              r.logStatus,
              r.srcaddr,
              r.packets,
              r.skippedPackets,
            ]),
          ),
        );
        console.log(h2.logs.map((l) => JSON.stringify(l)).join('\n'));
        throw err;
      });
      const gap = two.filter((r) => r.logStatus === 'SKIPDATA');
      expect(gap.every((r) => r.skippedPackets === null && r.interfaceId === h2.eni)).toBe(true);
      const gapWindows = new Set(gap.map((r) => r.windowStart));
      // (Its batches' event time runs 2 s behind, for the verdicts: the gap's ends are a little earlier.)
      for (let w = windowOf(killedAt) + 5; w < windowOf(startedAt - 2); w += 5)
        expect(gapWindows.has(w), `window ${w} in the gap`).toBe(true);
      expect(gapWindows.size).toBeGreaterThanOrEqual(2);
      const view = (rs: FlowRecord[]) =>
        rs.map((r) => `${r.windowStart} ${r.logStatus} ${r.srcaddr} ${r.packets ?? r.skippedPackets}`);
      // Not NODATA: nothing was captured there (the new agent says it is live before its tcpdump listens, so up to its start only).
      expect(
        view(
          two.filter(
            (r) =>
              r.logStatus === 'NODATA' && r.windowStart >= windowOf(killedAt) && r.windowStart < windowOf(startedAt),
          ),
        ),
        `killed ${killedAt}, started ${startedAt}: ${view(two).join('; ')}`,
      ).toEqual([]);
      const received = sum(pings(two, h1.ip), 'packets');
      expect(received).toBeGreaterThan(0);
      expect(received).toBeLessThan(88);
      // Before the kill (less what it held for verdicts when killed) and after the restart.
      expect(pings(two, h1.ip).some((r) => r.start! < killedAt - 2)).toBe(true);
      expect(pings(two, h1.ip).some((r) => r.end! >= restartedAt - 1)).toBe(true);
    }, 150_000);
  },
);
