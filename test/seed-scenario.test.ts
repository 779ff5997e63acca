/**
 * The seed scenario on real packets: two network namespaces, "CVM A" 10.16.0.22 and "CVM B"
 * 10.16.0.40, joined by a veth pair. A capture agent (in-process, tcpdump children) owns A's veth as
 * one ENI and the verdicts of A's nftables rules (NFLOG groups 1 and 2) as a second ENI with the same
 * address; it registers both through PUT /v1/network-interfaces/:id. A pings B and tries B's ports 22
 * (dropped by nftables) and 80 (refused by B); the records come back from the search API.
 * Needs root (ip netns), tcpdump, nft and ping: skipped, saying why, where they are not there.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureAgent, CaptureAgentConfig, EniSource } from '@flowlogs/capture-agent';
import type { FlowRecord } from '@flowlogs/contracts';
import { createKafka } from '@flowlogs/kafka';
import { createRegistry } from '@flowlogs/runtime';
import { kafkaBrokers } from '@flowlogs/testkit';
import { startStack, TEST_API_KEY, until, type Stack } from './support/stack.js';

const A_IP = '10.16.0.22';
const B_IP = '10.16.0.40';
const id = randomBytes(3).toString('hex');
const NS_A = `flowlogs-a-${id}`;
const NS_B = `flowlogs-b-${id}`;
const VETH_A = `fla${id}`;
const VETH_B = `flb${id}`;
const WAIT_MS = 30_000;

/** Why the scenario cannot run here, or undefined when it can: probed once, with a throwaway namespace. */
function missing(): string | undefined {
  for (const tool of ['ip', 'tcpdump', 'nft', 'ping']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  const probe = `flowlogs-probe-${id}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  } catch (err) {
    return `ip netns add is not permitted: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`;
  }
  return undefined;
}
const skipReason = missing();
if (skipReason) console.warn(`seed scenario skipped: ${skipReason}`);

const sh = (...cmd: string[]) => execFileSync(cmd[0], cmd.slice(1), { stdio: 'pipe' });
/** A command in A's namespace; a failed one (a refused or dropped connection) is not an error here. */
const inA = (...cmd: string[]) => promisify(execFile)('ip', ['netns', 'exec', NS_A, ...cmd]).catch(() => undefined);

const SECURITY_GROUP = `
table inet sg {
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr ${B_IP} tcp dport 22 log prefix "drop" group 2 drop
    ip daddr ${B_IP} log prefix "accept" group 1 accept
  }
}`;

const sum = (records: FlowRecord[], field: 'packets' | 'bytes') => records.reduce((n, r) => n + (r[field] ?? 0), 0);

describe.skipIf(skipReason !== undefined)(`seed scenario: ping and nftables verdicts between two namespaces${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let stack: Stack;
  let agent: CaptureAgent | undefined;
  const logLines: Array<{ level: number; msg: string; eni?: string; err?: { message: string } }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => { logLines.push(JSON.parse(line)); } });
  const liveEni = `eni-${id}live`;
  const verdictEni = `eni-${id}sg`;
  const brokenEni = `eni-${id}bad`;
  let subnetId: string;
  const since = Math.floor(Date.now() / 1000) - 60;

  /** The log topic's records about B, once `done` says they are all there. */
  const records = (topicId: string, done: (rs: FlowRecord[]) => boolean) => until(`records of ${topicId}`, async () => {
    const res = await stack.api('GET', `/v1/log-topics/${topicId}/records?q=${B_IP}&from=${since}&to=${since + 3600}&limit=1000`);
    expect(res.status).toBe(200);
    return done(res.body.records) ? (res.body.records as FlowRecord[]) : undefined;
  }, WAIT_MS);

  beforeAll(async () => {
    sh('ip', 'netns', 'add', NS_A);
    sh('ip', 'netns', 'add', NS_B);
    sh('ip', 'link', 'add', VETH_A, 'netns', NS_A, 'type', 'veth', 'peer', 'name', VETH_B, 'netns', NS_B);
    for (const [ns, veth, ip] of [[NS_A, VETH_A, A_IP], [NS_B, VETH_B, B_IP]]) {
      sh('ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', veth);
      sh('ip', '-n', ns, 'link', 'set', veth, 'up');
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    }
    execFileSync('ip', ['netns', 'exec', NS_A, 'nft', '-f', '-'], { input: SECURITY_GROUP, stdio: ['pipe', 'pipe', 'pipe'] });

    stack = await startStack({ FLOWLOGS_IDLE_CLOSE_MS: '500', FLOWLOGS_ALLOWED_LATENESS_S: '2' });
    const vpc = await stack.api('POST', '/v1/vpcs', { name: 'seed', cidrBlock: '10.16.0.0/16' });
    subnetId = (await stack.api('POST', '/v1/subnets', { vpcId: vpc.body.id, name: 'seed', cidrBlock: '10.16.0.0/24' })).body.id;

    const enis = [
      { id: liveEni, subnetId, name: 'cvm-a', primaryIp: A_IP, source: { type: 'live', interface: VETH_A, netns: NS_A } },
      { id: verdictEni, subnetId, name: 'cvm-a-sg', primaryIp: A_IP, source: { type: 'nflog', groups: [1, 2], netns: NS_A } },
      // A filter tcpdump refuses: its words reach the log with the ENI's id, and the others go on.
      { id: brokenEni, accountId: '0', vpcId: 'vpc-x', subnetId: 'subnet-x', source: { type: 'live', interface: VETH_A, netns: NS_A, filter: 'port ((' } },
    ].map((e) => EniSource.parse(e));
    const config = CaptureAgentConfig.parse({
      ...stack.env, METRICS_PORT: '0', FLOWLOGS_API_URL: stack.url, FLOWLOGS_API_KEY: TEST_API_KEY, FLOWLOGS_AGENT_ID: 'seed', FLOWLOGS_HEARTBEAT_MS: '1000',
    });
    agent = new CaptureAgent({ config, log, kafka: createKafka(kafkaBrokers(), 'seed-agent', log), registry: createRegistry('capture-agent'), enis });
    await agent.start();
    // Three tcpdumps: A's veth, nflog:1 and nflog:2.
    await until('tcpdump listening', async () => (logLines.filter((l) => l.msg === 'capture listening').length >= 3 ? true : undefined), WAIT_MS);
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
    for (const eni of [liveEni, verdictEni]) {
      expect((await stack.api('GET', `/v1/network-interfaces/${eni}`)).body).toMatchObject({ id: eni, subnetId, primaryIp: A_IP });
    }
    const failed = await until('the failed tcpdump in the log', async () => logLines.find((l) => l.eni === brokenEni && l.msg === 'capture source failed'), WAIT_MS);
    expect(failed.err?.message).toMatch(/tcpdump.*exited with 1: .*syntax error/);
  });

  it('records the ping both ways, the dropped SSH attempts as REJECT, the rest as ACCEPT', async () => {
    const logset = await stack.api('POST', '/v1/logsets', { name: 'seed' });
    const flowLog = async (eni: string, trafficType: string) => {
      const topic = await stack.api('POST', '/v1/log-topics', { logsetId: logset.body.id, name: `${eni}-${trafficType}` });
      expect(topic.status, JSON.stringify(topic.body)).toBe(201);
      const created = await stack.api('POST', '/v1/flow-logs', {
        name: `${eni}-${trafficType}`, resourceType: 'NETWORKINTERFACE', resourceId: eni, trafficType, logTopicId: topic.body.id, aggregationInterval: 5,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return topic.body.id as string;
    };
    const all = await flowLog(liveEni, 'ALL');
    const rejected = await flowLog(verdictEni, 'REJECT');
    const accepted = await flowLog(verdictEni, 'ACCEPT');

    await Promise.all([
      inA('ping', '-c', '9', '-i', '0.2', B_IP),
      ...[1, 2, 3].map(() => inA('timeout', '2', 'bash', '-c', `echo > /dev/tcp/${B_IP}/22`)),
      inA('timeout', '2', 'bash', '-c', `echo > /dev/tcp/${B_IP}/80`),
    ]);

    // A's veth: the echo requests out, the replies in, 9 × 84 bytes each way (over one or two windows).
    const pingOf = (rs: FlowRecord[], direction: string) => rs.filter((r) => r.protocol === 1 && r.flowDirection === direction);
    const live = await records(all, (rs) => sum(pingOf(rs, 'egress'), 'packets') >= 9 && sum(pingOf(rs, 'ingress'), 'packets') >= 9);
    for (const [direction, src, dst] of [['egress', A_IP, B_IP], ['ingress', B_IP, A_IP]]) {
      const pings = pingOf(live, direction);
      expect(pings.every((r) => r.srcaddr === src && r.dstaddr === dst && r.action === 'ACCEPT' && r.interfaceId === liveEni)).toBe(true);
      expect([sum(pings, 'packets'), sum(pings, 'bytes')], direction).toEqual([9, 756]);
    }

    // The verdicts: three connection attempts to B:22 dropped by the "drop" rule, one record (or two windows) per source port.
    const drops = await records(rejected, (rs) => new Set(rs.map((r) => r.srcport)).size >= 3);
    expect(new Set(drops.map((r) => r.srcport)).size).toBe(3);
    for (const r of drops) {
      expect(r).toMatchObject({ action: 'REJECT', protocol: 6, srcaddr: A_IP, dstaddr: B_IP, dstport: 22, flowDirection: 'egress', interfaceId: verdictEni });
    }
    // The "accept" rule: the echo requests and the SYN to B:80 (B's kernel answers RST, which comes in, not out).
    const accepts = await records(accepted, (rs) => sum(pingOf(rs, 'egress'), 'packets') >= 9 && rs.some((r) => r.dstport === 80));
    expect(accepts.every((r) => r.action === 'ACCEPT' && r.srcaddr === A_IP && r.dstport !== 22)).toBe(true);
    expect([sum(pingOf(accepts, 'egress'), 'packets'), sum(pingOf(accepts, 'egress'), 'bytes')]).toEqual([9, 756]);
  });
});
