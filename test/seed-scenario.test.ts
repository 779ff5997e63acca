/**
 * The seed scenario on real packets: two network namespaces, "CVM A" 10.16.0.22 and "CVM B"
 * 10.16.0.40, joined by a veth pair. B's firewall (nftables in B) drops TCP to its port 22 and from
 * it to A's port 23, logging the drops to NFLOG group 2. A capture agent (in-process, tcpdump
 * children) owns B's veth as B's ENI, with the verdicts of group 2, and A's veth as A's ENI; it
 * registers both through PUT /v1/network-interfaces/:id. A pings B 9 times and tries B's ports 22
 * (dropped on the way in) and 80 (refused by B); B tries A's port 23 (dropped on the way out). The
 * records come back from the search API, checked against the packets nftables' counters counted.
 * Needs root (ip netns), tcpdump, nft and ping: skipped, saying why, where they are not there.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureAgent, CaptureAgentConfig, EniSource } from '@flowlogs/capture-agent';
import type { FlowRecord } from '@flowlogs/contracts';
import { createKafka } from '@flowlogs/kafka';
import { createRegistry } from '@flowlogs/runtime';
import { kafkaBrokers } from '@flowlogs/testkit';
import { inNs, linkUp, netnsSkipReason, sh } from './support/netns.js';
import { startStack, TEST_API_KEY, until, type Stack } from './support/stack.js';

const A_IP = '10.16.0.22';
const B_IP = '10.16.0.40';
const id = randomBytes(3).toString('hex');
const NS_A = `flowlogs-a-${id}`;
const NS_B = `flowlogs-b-${id}`;
const VETH_A = `fla${id}`;
const VETH_B = `flb${id}`;
const WAIT_MS = 30_000;

const skipReason = netnsSkipReason(`flowlogs-probe-${id}`);
if (skipReason) console.warn(`seed scenario skipped: ${skipReason}`);

/** B's security group: what the README's getting-started sets up, with counters to check the records against. */
const SECURITY_GROUP = `
table inet sg {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 22 counter log prefix "drop" group 2 drop
  }
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr ${A_IP} tcp dport 23 counter log prefix "drop" group 2 drop
  }
}`;

/** What nftables' counters in B counted: [packets, bytes] of the rule dropping `dport`. */
function dropped(dport: number): [number, number] {
  const table = execFileSync('ip', ['netns', 'exec', NS_B, 'nft', 'list', 'table', 'inet', 'sg'], { encoding: 'utf8' });
  const m = new RegExp(`tcp dport ${dport} counter packets (\\d+) bytes (\\d+)`).exec(table);
  if (!m) throw new Error(`no counter for port ${dport} in:\n${table}`);
  return [Number(m[1]), Number(m[2])];
}

const sum = (records: FlowRecord[], field: 'packets' | 'bytes') => records.reduce((n, r) => n + (r[field] ?? 0), 0);

describe.skipIf(skipReason !== undefined)(
  `seed scenario: ping and nftables verdicts between two namespaces${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let stack: Stack;
    let agent: CaptureAgent | undefined;
    const logLines: Array<{ level: number; msg: string; eni?: string; err?: string }> = [];
    const log = pino(
      { level: 'info' },
      {
        write: (line: string) => {
          logLines.push(JSON.parse(line));
        },
      },
    );
    const eniA = `eni-${id}a`;
    const eniB = `eni-${id}b`;
    const brokenEni = `eni-${id}bad`;
    let subnetId: string;
    const since = Math.floor(Date.now() / 1000) - 60;

    /** The log topic's records about B, once `done` says they are all there. */
    const records = (topicId: string, done: (rs: FlowRecord[]) => boolean) =>
      until(
        `records of ${topicId}`,
        async () => {
          const res = await stack.api(
            'GET',
            `/v1/log-topics/${topicId}/records?q=${B_IP}&from=${since}&to=${since + 3600}&limit=1000`,
          );
          expect(res.status).toBe(200);
          return done(res.body.records) ? (res.body.records as FlowRecord[]) : undefined;
        },
        WAIT_MS,
      );

    beforeAll(async () => {
      sh('ip', 'netns', 'add', NS_A);
      sh('ip', 'netns', 'add', NS_B);
      sh('ip', 'link', 'add', VETH_A, 'netns', NS_A, 'type', 'veth', 'peer', 'name', VETH_B, 'netns', NS_B);
      for (const [ns, veth, ip] of [
        [NS_A, VETH_A, A_IP],
        [NS_B, VETH_B, B_IP],
      ]) {
        sh('ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', veth);
        sh('ip', '-n', ns, 'link', 'set', veth, 'up');
        sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      }
      execFileSync('ip', ['netns', 'exec', NS_B, 'nft', '-f', '-'], {
        input: SECURITY_GROUP,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      // A veth carries traffic once both ends are up: before that a ping or connect fails at once.
      for (const [ns, veth] of [
        [NS_A, VETH_A],
        [NS_B, VETH_B],
      ]) {
        await until(`${veth} up`, async () => (linkUp(ns, veth) ? true : undefined), WAIT_MS);
      }

      stack = await startStack({ FLOWLOGS_IDLE_CLOSE_MS: '500' }); // the default lateness: what the sources report
      const vpc = await stack.api('POST', '/v1/vpcs', { name: 'seed', cidrBlock: '10.16.0.0/16' });
      subnetId = (
        await stack.api('POST', '/v1/subnets', { vpcId: vpc.body.id, name: 'seed', cidrBlock: '10.16.0.0/24' })
      ).body.id;

      const enis = [
        {
          id: eniA,
          subnetId,
          name: 'cvm-a',
          primaryIp: A_IP,
          source: { type: 'live', interface: VETH_A, netns: NS_A },
        },
        {
          id: eniB,
          subnetId,
          name: 'cvm-b',
          primaryIp: B_IP,
          source: { type: 'live', interface: VETH_B, netns: NS_B, verdicts: { nflogGroups: [2] } },
        },
        // A filter tcpdump refuses: its words reach the log with the ENI's id, and the others go on.
        {
          id: brokenEni,
          subnetId,
          primaryIp: A_IP,
          source: { type: 'live', interface: VETH_A, netns: NS_A, filter: 'port ((' },
        },
      ].map((e) => EniSource.parse(e));
      const config = CaptureAgentConfig.parse({
        ...stack.env,
        METRICS_PORT: '0',
        FLOWLOGS_API_URL: stack.url,
        FLOWLOGS_API_KEY: TEST_API_KEY,
        FLOWLOGS_AGENT_ID: 'seed',
        FLOWLOGS_HEARTBEAT_MS: '1000',
      });
      agent = new CaptureAgent({
        config,
        log,
        kafka: createKafka(kafkaBrokers(), 'seed-agent', log),
        registry: createRegistry('capture-agent'),
        enis,
      });
      await agent.start();
      // Three tcpdumps: A's veth, B's veth and B's nflog:2.
      await until(
        'tcpdump listening',
        async () => (logLines.filter((l) => l.msg === 'capture listening').length >= 3 ? true : undefined),
        WAIT_MS,
      );
    });

    afterAll(async () => {
      try {
        await agent?.stop();
        await stack?.stop();
      } finally {
        for (const ns of [NS_A, NS_B]) {
          try {
            sh('ip', 'netns', 'del', ns);
          } catch {
            // not made (beforeAll failed early)
          }
        }
      }
    });

    it('registers the ENIs through the API, and logs a tcpdump that fails with its ENI', async () => {
      for (const [eni, ip] of [
        [eniA, A_IP],
        [eniB, B_IP],
      ]) {
        expect((await stack.api('GET', `/v1/network-interfaces/${eni}`)).body).toMatchObject({
          id: eni,
          subnetId,
          primaryIp: ip,
        });
      }
      const failed = await until(
        'the failed tcpdump in the log',
        async () => logLines.find((l) => l.eni === brokenEni && l.msg === 'capture source failed'),
        WAIT_MS,
      );
      expect(failed.err).toMatch(/tcpdump.*exited with 1: .*syntax error/);
    });

    it("counts each packet through B once under B's ENI: the ping ACCEPT, the firewall's drops REJECT both ways, never ACCEPT", async () => {
      const logset = await stack.api('POST', '/v1/logsets', { name: 'seed' });
      const flowLog = async (eni: string, trafficType: string) => {
        const topic = await stack.api('POST', '/v1/log-topics', {
          logsetId: logset.body.id,
          name: `${eni}-${trafficType}`,
        });
        expect(topic.status, JSON.stringify(topic.body)).toBe(201);
        const created = await stack.api('POST', '/v1/flow-logs', {
          name: `${eni}-${trafficType}`,
          resourceType: 'NETWORKINTERFACE',
          resourceId: eni,
          trafficType,
          logTopicId: topic.body.id,
          aggregationInterval: 5,
        });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        return topic.body.id as string;
      };
      const allB = await flowLog(eniB, 'ALL');
      const rejectedB = await flowLog(eniB, 'REJECT');
      const allA = await flowLog(eniA, 'ALL');

      await Promise.all([
        inNs(NS_A, 'ping', '-c', '9', '-i', '0.2', B_IP),
        ...[1, 2, 3].map(() => inNs(NS_A, 'timeout', '2', 'bash', '-c', `echo > /dev/tcp/${B_IP}/22`)),
        inNs(NS_A, 'timeout', '2', 'bash', '-c', `echo > /dev/tcp/${B_IP}/80`),
        inNs(NS_B, 'timeout', '2', 'bash', '-c', `echo > /dev/tcp/${A_IP}/23`),
      ]);
      const [in22, in22Bytes] = dropped(22);
      const [out23, out23Bytes] = dropped(23);
      expect(in22).toBeGreaterThanOrEqual(3);
      expect(out23).toBeGreaterThanOrEqual(1);

      const pingOf = (rs: FlowRecord[], direction: string) =>
        rs.filter((r) => r.protocol === 1 && r.flowDirection === direction);
      const port = (rs: FlowRecord[], p: number) =>
        rs.filter((r) => r.protocol === 6 && (r.dstport === p || r.srcport === p));
      const complete = (rs: FlowRecord[]) =>
        sum(pingOf(rs, 'egress'), 'packets') >= 9 &&
        sum(pingOf(rs, 'ingress'), 'packets') >= 9 &&
        sum(port(rs, 22), 'packets') >= in22 &&
        sum(port(rs, 23), 'packets') >= out23 &&
        port(rs, 80).length >= 2;
      const b = await records(allB, complete);
      // Once more after a window: nothing comes twice, and nothing is left to come.
      await new Promise((r) => setTimeout(r, 6000));
      const all = await records(allB, complete);
      expect(all.length).toBe(b.length);
      expect(all.every((r) => r.interfaceId === eniB && r.logStatus === 'OK')).toBe(true);

      // The ping: 9 echo requests in, 9 replies out, 84 bytes each, ACCEPT, exactly once.
      for (const [direction, src, dst] of [
        ['ingress', A_IP, B_IP],
        ['egress', B_IP, A_IP],
      ]) {
        const pings = pingOf(all, direction);
        expect(pings.every((r) => r.srcaddr === src && r.dstaddr === dst && r.action === 'ACCEPT')).toBe(true);
        expect([sum(pings, 'packets'), sum(pings, 'bytes')], direction).toEqual([9, 756]);
      }
      // Dropped on the way in: seen on B's wire, yet REJECT, never ACCEPT; as many as nftables dropped.
      const syns22 = port(all, 22);
      expect(
        syns22.every(
          (r) => r.action === 'REJECT' && r.flowDirection === 'ingress' && r.dstaddr === B_IP && r.tcpFlags === 2,
        ),
      ).toBe(true);
      expect([sum(syns22, 'packets'), sum(syns22, 'bytes')]).toEqual([in22, in22Bytes]);
      expect(new Set(syns22.map((r) => r.srcport)).size).toBe(3);
      // Dropped on the way out: never on the wire, REJECT from the verdict alone.
      const syns23 = port(all, 23);
      expect(syns23.every((r) => r.action === 'REJECT' && r.flowDirection === 'egress' && r.srcaddr === B_IP)).toBe(
        true,
      );
      expect([sum(syns23, 'packets'), sum(syns23, 'bytes')]).toEqual([out23, out23Bytes]);
      // Port 80: B's firewall lets it in and B's kernel refuses it: the SYN in and the RST out, ACCEPT.
      expect(
        port(all, 80)
          .map((r) => [r.flowDirection, r.action])
          .sort(),
      ).toEqual([
        ['egress', 'ACCEPT'],
        ['ingress', 'ACCEPT'],
      ]);
      expect(all.length).toBe(
        pingOf(all, 'ingress').length + pingOf(all, 'egress').length + syns22.length + syns23.length + 2,
      );

      // The REJECT flow log on the same ENI: only the drops, the same records.
      const rejects = await records(rejectedB, (rs) => sum(rs, 'packets') >= in22 + out23);
      const key = (r: FlowRecord) =>
        `${r.srcaddr}:${r.srcport}>${r.dstaddr}:${r.dstport}/${r.windowStart} ${r.packets} ${r.bytes} ${r.action}`;
      expect(rejects.map(key).sort()).toEqual([...syns22, ...syns23].map(key).sort());

      // A's ENI, without verdicts: what crossed A's wire, all ACCEPT (its firewall dropped nothing); B's drop of 22 is B's.
      const a = await records(
        allA,
        (rs) => sum(pingOf(rs, 'egress'), 'packets') >= 9 && sum(pingOf(rs, 'ingress'), 'packets') >= 9,
      );
      expect(a.every((r) => r.interfaceId === eniA && r.action === 'ACCEPT')).toBe(true);
      expect([sum(pingOf(a, 'egress'), 'packets'), sum(pingOf(a, 'egress'), 'bytes')]).toEqual([9, 756]);
      expect(sum(port(a, 23), 'packets')).toBe(0);
    });
  },
);
