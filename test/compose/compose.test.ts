/**
 * `npm run test:compose`: docker-compose.yml as a user runs it (deploy/docker/README.md), through
 * podman's Docker API and compose v2. Images the compose file names are made from Debian first
 * (./images.ts); then `up -d --build --wait`, the admin key from the control plane's log, resources
 * through the API on the published port, and the host-network agent (profile `agent`) replaying a
 * capture from ./captures AND capturing a veth pair to a network namespace live, with the drops of an
 * nftables rule on it (NFLOG) as its REJECTs. Records are read back through the API and, read_committed, from the
 * log topics' Kafka topics on the published Kafka port, and compared with the offline records of the
 * same traffic (the replayed file; a tcpdump of the veth beside the agent's). `down -v` at the end;
 * every helper process it started (podman service, healthcheck loop, tcpdump, the lock) is stopped by PID.
 * Needs root, podman, runc, debootstrap, tcpdump, nft, ip and mvn (.ci/run installs them).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoCapture, DEMO_NETWORK } from '@flowlogs/packet/demo-capture';
import type { FlowRecord } from '@flowlogs/contracts';
import { recordsFromCapture } from '@flowlogs/flow';
import { createKafka } from '@flowlogs/kafka';
import { testLogger } from '@flowlogs/testkit';
import { apiClient, flowView, until, type Stack } from '../support/stack.js';
import { COMPOSE_BIN, REPO, ensureImages, ensureTools } from './images.js';

const run = promisify(execFile);
const id = randomBytes(3).toString('hex');
const PROJECT = `flowlogs-compose-${id}`;
const SOCKET = `/tmp/flowlogs-compose-${id}.sock`;
const NS = `flowlogs-c-${id}`;
const VETH = `flc${id}h`;
const VETH_NS = `flc${id}n`;
const OCTET = randomInt(1, 255);
const HOST_IP = `10.231.${OCTET}.1`;
const PEER_IP = `10.231.${OCTET}.2`;
const DROP_GROUP = randomInt(20_000, 60_000);
const NFT_TABLE = `flowlogs_c_${id}`;
const CAPTURE = `compose-${id}.pcap`;
const WAIT_MS = 90_000;

const work = mkdtempSync(join(tmpdir(), 'flowlogs-compose-'));
const helpers: ChildProcess[] = [];
const timings: string[] = [];

/** Runs `fn`, noting how long it took (printed at the end: the build and run figures of the run). */
async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings.push(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    console.log(`[compose] ${timings.at(-1)}`);
  }
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
      .listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      })
      .on('error', reject);
  });

/** A long-running helper, stopped by PID in afterAll; resolves once `ready` (if given) shows on its output. */
function helper(cmd: string, args: string[], ready?: RegExp): Promise<ChildProcess> {
  const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  helpers.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (ready?.test(output)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${output.trim()}`)));
    if (!ready) resolve(child);
  });
}

async function stopHelper(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, signal);
  await exited;
}

let env: Record<string, string | undefined>;
/** The compose CLI in the repository, as the README runs it (`docker compose …`), on podman's socket. */
async function compose(...args: string[]): Promise<string> {
  try {
    return (
      await run(COMPOSE_BIN, ['--ansi', 'never', ...args], { cwd: REPO, env, maxBuffer: 64 << 20, timeout: 1_500_000 })
    ).stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `compose ${args.join(' ')} failed: ${e.stderr?.trim().split('\n').slice(-20).join('\n') || e.message}`,
    );
  }
}

const sh = (...cmd: string[]) => run(cmd[0], cmd.slice(1));
const inNs = (...cmd: string[]) => run('ip', ['netns', 'exec', NS, ...cmd]);
/** A command whose failure (a refused or dropped connection) is the point. */
const attempt = (...cmd: string[]) => run(cmd[0], cmd.slice(1)).catch(() => undefined);

/** The image a compose service names, as podman's Docker API stores it (docker.io/library/… for official images). */
const qualified = (image: string) =>
  image.split('/').length === 1
    ? `docker.io/library/${image}`
    : image.split('/').length === 2
      ? `docker.io/${image}`
      : image;

function podmanPing(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: SOCKET, path: '/_ping' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** Every record of a log topic in [from, to), page by page, once there are at least `want`. */
function searchAll(
  api: Stack['api'],
  topicId: string,
  from: number,
  to: number,
  want: number,
  q = '',
): Promise<FlowRecord[]> {
  return until(
    `${want} records of ${topicId}`,
    async () => {
      const all: FlowRecord[] = [];
      let cursor: string | null = null;
      do {
        const qs: URLSearchParams = new URLSearchParams({
          from: String(from),
          to: String(to),
          limit: '1000',
          q,
          ...(cursor ? { cursor } : {}),
        });
        const res = await api('GET', `/v1/log-topics/${topicId}/records?${qs}`);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        all.push(...res.body.records);
        cursor = res.body.nextCursor;
      } while (cursor);
      return all.length >= want ? all : undefined;
    },
    WAIT_MS,
  );
}

/**
 * A service's pino lines from `docker compose logs` (podman's log API puts terminal control bytes before
 * some lines, so each is read from its first brace).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- pino lines of any shape
async function serviceLog(service: string): Promise<Array<Record<string, any>>> {
  const text = await compose('logs', '--no-log-prefix', service);
  return text.split('\n').flatMap((line) => {
    const json = line.slice(Math.max(0, line.indexOf('{')));
    try {
      return [JSON.parse(json)];
    } catch {
      return [];
    }
  });
}

const between = (rs: FlowRecord[], a: string, b: string) =>
  rs.filter((r) => (r.srcaddr === a && r.dstaddr === b) || (r.srcaddr === b && r.dstaddr === a));
const sum = (rs: FlowRecord[], field: 'packets' | 'bytes') => rs.reduce((n, r) => n + (r[field] ?? 0), 0);

describe('docker compose through podman: the stack, the generated key, replayed and live traffic', () => {
  let api: Stack['api'];
  let apiKey: string;
  let httpPort: number;
  let kafkaPort: number;

  beforeAll(async () => {
    [httpPort, kafkaPort] = [await freePort(), await freePort()];
    const agentMetricsPort = await freePort();
    env = {
      ...process.env,
      FLOWLOGS_API_KEY: undefined,
      DOCKER_HOST: `unix://${SOCKET}`,
      DOCKER_BUILDKIT: '0',
      COMPOSE_PROJECT_NAME: PROJECT,
      FLOWLOGS_HTTP_PORT: String(httpPort),
      KAFKA_HOST_PORT: String(kafkaPort),
      FLOWLOGS_AGENT_METRICS_PORT: String(agentMetricsPort),
    };
    const log = (msg: string) => console.log(`[compose] ${msg}`);
    await timed('base image and compose v2 (debootstrap when missing)', () => ensureTools(log));
    const config = JSON.parse(await compose('config', '--format', 'json'));
    const images = {
      kafka: qualified(config.services.kafka.image),
      postgres: qualified(config.services.postgres.image),
    };
    await timed(`stand-in images ${images.kafka}, ${images.postgres}`, () => ensureImages(images, log));

    await helper('podman', ['system', 'service', '--time=0', `unix://${SOCKET}`]);
    await until('podman system service', async () => ((await podmanPing()) ? true : undefined), 30_000);
    await helper('sh', ['deploy/docker/podman-healthchecks.sh', PROJECT]);
    await timed('docker compose up -d --build --wait', () => compose('up', '-d', '--build', '--wait'));

    const printed = (await serviceLog('control-plane')).filter((l) => l.apiKey);
    expect(printed).toHaveLength(1);
    apiKey = printed[0].apiKey;
    api = apiClient(`http://127.0.0.1:${httpPort}`, apiKey);
  }, 1_800_000);

  afterAll(async () => {
    try {
      if (env)
        await timed('docker compose down -v', () =>
          compose('--profile', 'agent', 'down', '-v', '--timeout', '10'),
        ).catch((err) => console.error(err));
    } finally {
      for (const child of helpers.reverse()) await stopHelper(child);
      await attempt('ip', 'netns', 'del', NS);
      await attempt('ip', 'link', 'del', VETH);
      await attempt('nft', 'delete', 'table', 'inet', NFT_TABLE);
      rmSync(join(REPO, 'captures', CAPTURE), { force: true });
      rmSync(work, { recursive: true, force: true });
      rmSync(SOCKET, { force: true });
      console.log(`[compose] figures:\n  ${timings.join('\n  ')}`);
    }
  }, 300_000);

  it('makes an admin key on the first start, shows it once, and stores only its hash', async () => {
    expect(apiKey).toMatch(/^flk_[A-Za-z0-9_-]{43}$/);
    expect((await api('GET', '/v1/account')).status).toBe(200);
    expect((await api('GET', '/v1/account', undefined, null)).status).toBe(401);
    const hashes = await compose(
      'exec',
      '-T',
      'postgres',
      'psql',
      '-U',
      'postgres',
      '-d',
      'flowlogs',
      '-tAc',
      'SELECT key_hash FROM api_keys',
    );
    expect(hashes.trim().split('\n')).toEqual([createHash('sha256').update(apiKey).digest('hex')]);

    // A restart finds the operator account: no new key, nothing printed again, the key still works.
    await compose('restart', 'control-plane');
    await compose('up', '-d', '--wait', 'control-plane');
    expect((await serviceLog('control-plane')).filter((l) => l.apiKey)).toHaveLength(1);
    expect((await api('GET', '/v1/account')).status).toBe(200);
  }, 300_000);

  it('records a replayed capture and live traffic with its verdicts through the host-network agent', async () => {
    // The host side of a veth pair is the live ENI; the namespace is its peer. Under the lock the
    // repository's namespace tests share; IPv6 off so only the test's own traffic crosses it.
    // One process holds it (the shell becomes sleep, keeping the locked descriptor): stopping its PID frees the lock.
    await helper(
      'sh',
      ['-c', 'exec 9>>/tmp/flowlogs-netns.lock; flock -w 900 9 && echo locked && exec sleep infinity'],
      /locked/,
    );
    await sh('ip', 'netns', 'add', NS);
    await sh('ip', 'link', 'add', VETH, 'type', 'veth', 'peer', 'name', VETH_NS, 'netns', NS);
    await sh('sysctl', '-q', '-w', `net.ipv6.conf.${VETH}.disable_ipv6=1`);
    await inNs('sysctl', '-q', '-w', `net.ipv6.conf.${VETH_NS}.disable_ipv6=1`);
    await sh('ip', 'addr', 'add', `${HOST_IP}/24`, 'dev', VETH);
    await sh('ip', 'link', 'set', VETH, 'up');
    await sh('ip', '-n', NS, 'addr', 'add', `${PEER_IP}/24`, 'dev', VETH_NS);
    await sh('ip', '-n', NS, 'link', 'set', VETH_NS, 'up');
    // A security group on the host's way out through the veth: SSH to the peer dropped, and logged.
    writeFileSync(
      join(work, 'sg.nft'),
      `table inet ${NFT_TABLE} {
  chain output {
    type filter hook output priority 0; policy accept;
    oifname "${VETH}" ip daddr ${PEER_IP} tcp dport 22 log prefix "drop" group ${DROP_GROUP} drop
  }
}\n`,
    );
    await sh('nft', '-f', join(work, 'sg.nft'));

    // The resources, as a user makes them through the published port.
    const post = async (path: string, body: unknown) => {
      const res = await api('POST', path, body);
      expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(201);
      return res.body;
    };
    const demoVpc = await post('/v1/vpcs', { name: 'demo', cidrBlock: DEMO_NETWORK.vpcCidr });
    const demoSubnet = await post('/v1/subnets', {
      vpcId: demoVpc.id,
      name: 'demo',
      cidrBlock: DEMO_NETWORK.subnetCidr,
    });
    const replayEni = await post('/v1/network-interfaces', {
      subnetId: demoSubnet.id,
      name: 'replayed',
      primaryIp: DEMO_NETWORK.eniIp,
    });
    const hostVpc = await post('/v1/vpcs', { name: 'host', cidrBlock: '10.231.0.0/16' });
    const hostSubnet = await post('/v1/subnets', {
      vpcId: hostVpc.id,
      name: 'veth',
      cidrBlock: `10.231.${OCTET}.0/24`,
    });
    const logset = await post('/v1/logsets', { name: 'compose' });
    const topic = async (name: string) => post('/v1/log-topics', { logsetId: logset.id, name });
    const [replayTopic, liveTopic] = [await topic('replayed'), await topic('live')];
    const flowLog = (name: string, resourceId: string, logTopicId: string, aggregationInterval: number) =>
      post('/v1/flow-logs', {
        name,
        resourceType: 'NETWORKINTERFACE',
        resourceId,
        trafficType: 'ALL',
        logTopicId,
        aggregationInterval,
      });
    await flowLog('replayed', replayEni.id, replayTopic.id, 10);
    const agentKey = (await post('/v1/api-keys', { role: 'agent', name: 'host-agent' })).key;

    // The capture the agent replays (two minutes ago, so its windows are closed when it ends), and the agent's config.
    const start = Math.floor(Date.now() / 1000) - 120;
    mkdirSync(join(REPO, 'captures'), { recursive: true });
    writeFileSync(join(REPO, 'captures', CAPTURE), demoCapture(start));
    const liveEni = `eni-${id}live`;
    const agentConfig = join(work, 'agent.json');
    writeFileSync(
      agentConfig,
      JSON.stringify(
        {
          enis: [
            { id: replayEni.id, source: { type: 'file', path: `/captures/${CAPTURE}`, speed: 'max' } },
            {
              id: liveEni,
              subnetId: hostSubnet.id,
              name: 'host-veth',
              primaryIp: HOST_IP,
              source: { type: 'live', interface: VETH, verdicts: { nflogGroups: [DROP_GROUP] } },
            },
          ],
        },
        null,
        2,
      ),
    );

    // A tcpdump of the same veth beside the agent's: the offline reference for the live records.
    const hostPcap = join(work, 'veth.pcap');
    const tcpdump = await helper('tcpdump', ['-i', VETH, '-w', hostPcap, '-U', '-n', '-Z', 'root'], /listening on/);
    env = { ...env, FLOWLOGS_AGENT_CONFIG_FILE: agentConfig, FLOWLOGS_AGENT_API_KEY: agentKey };
    await timed('docker compose --profile agent up -d --wait agent', () =>
      compose('--profile', 'agent', 'up', '-d', '--wait', 'agent'),
    );
    const agentLog = () => serviceLog('agent');
    // Two tcpdumps in the container: the veth and the NFLOG group of its drops.
    await until(
      'the agent capturing',
      async () => ((await agentLog()).filter((l) => l.msg === 'capture listening').length >= 2 ? true : undefined),
      WAIT_MS,
    );
    expect((await api('GET', `/v1/network-interfaces/${liveEni}`)).body).toMatchObject({
      id: liveEni,
      subnetId: hostSubnet.id,
      primaryIp: HOST_IP,
    });
    await flowLog('live', liveEni, liveTopic.id, 5);

    // Traffic from the host: a ping, three SSH attempts (dropped), one to a closed port 80 (refused by the peer).
    const sent = Math.floor(Date.now() / 1000);
    await Promise.all([
      sh('ping', '-c', '9', '-i', '0.2', '-I', VETH, PEER_IP),
      ...[1, 2, 3].map(() => attempt('timeout', '2', 'bash', '-c', `echo > /dev/tcp/${PEER_IP}/22`)),
      attempt('timeout', '2', 'bash', '-c', `echo > /dev/tcp/${PEER_IP}/80`),
    ]);
    await new Promise((r) => setTimeout(r, 1000));
    await stopHelper(tcpdump, 'SIGINT');

    const account = (await api('GET', '/v1/account')).body.id;
    const replayed = (
      await recordsFromCapture(join(REPO, 'captures', CAPTURE), {
        interval: 10,
        eni: { eniId: replayEni.id, accountId: account, vpcId: demoVpc.id, subnetId: demoSubnet.id },
        eniIp: DEMO_NETWORK.eniIp,
      })
    ).records;
    // What crossed the wire (the dropped SYNs never reach it): all ACCEPT, as the agent must say too.
    const live = between(
      (
        await recordsFromCapture(hostPcap, {
          interval: 5,
          eni: { eniId: liveEni, accountId: account, vpcId: hostVpc.id, subnetId: hostSubnet.id },
          eniIp: HOST_IP,
        })
      ).records,
      HOST_IP,
      PEER_IP,
    );
    expect(replayed.length).toBeGreaterThan(10);
    expect(
      sum(
        live.filter((r) => r.protocol === 1),
        'packets',
      ),
    ).toBe(18);

    // Search: the replayed and the live records, each equal to its offline reference.
    const searchedReplay = await searchAll(api, replayTopic.id, start - 600, start + 600, replayed.length);
    expect(searchedReplay.map(flowView).sort()).toEqual(replayed.map(flowView).sort());
    // The live ENI: the wire's records as ACCEPT, and the firewall's drops (three SSH attempts) as REJECT.
    const searchedLive = await until(
      'the live records with their verdicts',
      async () => {
        const rs = between(await searchAll(api, liveTopic.id, sent - 60, sent + 600, 1, HOST_IP), HOST_IP, PEER_IP);
        const rejects = new Set(rs.filter((r) => r.action === 'REJECT').map((r) => r.srcport));
        return rejects.size >= 3 && rs.filter((r) => r.action === 'ACCEPT').length >= live.length ? rs : undefined;
      },
      WAIT_MS,
    );
    const rejected = searchedLive.filter((r) => r.action === 'REJECT');
    for (const r of rejected) {
      expect(r).toMatchObject({
        protocol: 6,
        srcaddr: HOST_IP,
        dstaddr: PEER_IP,
        dstport: 22,
        flowDirection: 'egress',
        interfaceId: liveEni,
      });
    }
    expect(new Set(rejected.map((r) => r.srcport)).size).toBe(3);
    expect(
      searchedLive
        .filter((r) => r.action === 'ACCEPT')
        .map(flowView)
        .sort(),
    ).toEqual(live.map(flowView).sort());
    expect(live.some((r) => r.dstport === 80) && live.every((r) => r.dstport !== 22 && r.action === 'ACCEPT')).toBe(
      true,
    );

    // The log topics' Kafka topics from the host, on the published port, read_committed: the same records, each once.
    const log = testLogger();
    const consumer = createKafka([`127.0.0.1:${kafkaPort}`], `compose-test-${id}`, log).consumer({
      groupId: `compose-test-${id}`,
      readUncommitted: false,
    });
    const streamed = new Map<string, FlowRecord[]>([
      [replayTopic.kafkaTopic, []],
      [liveTopic.kafkaTopic, []],
    ]);
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [...streamed.keys()], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic: t, message }) => {
          streamed.get(t)!.push(JSON.parse(message.value!.toString()));
        },
      });
      await until(
        'the records on the Kafka topics',
        async () =>
          streamed.get(replayTopic.kafkaTopic)!.length >= replayed.length &&
          between(streamed.get(liveTopic.kafkaTopic)!, HOST_IP, PEER_IP).length >= searchedLive.length
            ? true
            : undefined,
        WAIT_MS,
      );
      await new Promise((r) => setTimeout(r, 1000)); // a duplicate would arrive within this
    } finally {
      await consumer.disconnect();
    }
    const streamedReplay = streamed.get(replayTopic.kafkaTopic)!;
    expect(streamedReplay.map(flowView).sort()).toEqual(replayed.map(flowView).sort());
    expect(new Set(streamedReplay.map((r) => r.recordId)).size).toBe(streamedReplay.length);
    expect(between(streamed.get(liveTopic.kafkaTopic)!, HOST_IP, PEER_IP).map(flowView).sort()).toEqual(
      searchedLive.map(flowView).sort(),
    );

    // The agent's own account of it: the file replayed to its end, the live sources still listening.
    const ended = (await agentLog()).find((l) => l.msg === 'capture source ended' && l.eni === replayEni.id);
    expect(ended?.received).toBeGreaterThan(0);
    console.log(
      `[compose] replayed ${replayed.length} records (${ended?.received} frames), live ${live.length} ACCEPT and ${rejected.length} REJECT records`,
    );
    expect(existsSync(hostPcap)).toBe(true);
  }, 900_000);
});
