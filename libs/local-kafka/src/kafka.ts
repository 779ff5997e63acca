/**
 * A local Kafka (KRaft) for machines without Docker: resolves the broker's jars with Maven into a
 * cache folder once, formats storage once, starts one broker, or N brokers that are also a
 * controller quorum (each with its own ports and data directory), on 127.0.0.1 with a small heap,
 * waits until they answer, and stops them cleanly. Brokers already answering are reused. With
 * `secure`, a broker that takes SASL_SSL only, with SCRAM users and ACLs (see SecureOptions).
 */
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const HERE = fileURLToPath(new URL('../kafka/', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface LocalKafkaOptions {
  /** Where jars, data and logs live; default FLOWLOGS_CACHE_DIR or <repo>/.cache. */
  cacheDir?: string;
  /** The first broker's client port (default 9092); broker i listens on port + i - 1. */
  port?: number;
  /** The first controller port (default: after the last client port); controller i on controllerPort + i - 1. */
  controllerPort?: number;
  /** How many brokers (default 1). Each is also a controller: 3 make a quorum that survives one loss. */
  brokers?: number;
  heap?: string;
  log?: (msg: string) => void;
  /** Clients connect with SASL_SSL only (one broker). */
  secure?: SecureOptions;
}

/**
 * A broker as a managed cluster runs one: its client listener SASL_SSL only (SCRAM-SHA-512, a
 * certificate for 127.0.0.1 and localhost signed by a CA of its own), ACLs on with
 * `allow.everyone.if.no.acl.found=false`, and no topic made by a metadata request. The controller
 * listener stays PLAINTEXT on 127.0.0.1; its principal (User:ANONYMOUS: the broker talking to its
 * own controller) and `admin` are the super users.
 */
export interface SecureOptions {
  /** Where the CA, the broker's certificate and keystore are made (once; reused while they are there). */
  dir: string;
  /** SCRAM-SHA-512 users made with the storage tool at format time, name → password; `admin` is required. */
  users: Record<string, string>;
}

/** The files of the local CA and the server certificate it signed (for 127.0.0.1 and localhost), PEM. */
export interface LocalCertificates {
  ca: string;
  cert: string;
  key: string;
  /** The certificate, its key and the CA in a PKCS#12 keystore (Java's; password KEYSTORE_PASSWORD). */
  keystore: string;
}

export interface LocalKafka {
  brokers: string[];
  /** True when this call started a broker; false when all were already running. */
  started: boolean;
  stop(): Promise<void>;
}

const openssl = (args: string[]) => run('openssl', args);
/** Guards nothing (the keystore sits beside its key in the clear); Java's keystores must have one. */
const KEYSTORE_PASSWORD = 'flowlogs-local';

/**
 * Makes (once) a CA and a server certificate signed by it, whose names are 127.0.0.1 and
 * localhost (clients that check the host name accept it on either), with openssl, into `dir`.
 */
export async function localCertificates(dir: string): Promise<LocalCertificates> {
  const files: LocalCertificates = {
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
    keystore: join(dir, 'server.p12'),
  };
  if (existsSync(files.keystore)) return files;
  mkdirSync(dir, { recursive: true });
  const caKey = join(dir, 'ca.key');
  const csr = join(dir, 'server.csr');
  const ext = join(dir, 'server.ext');
  const sign = ['-CA', files.ca, '-CAkey', caKey, '-CAcreateserial', '-days', '3650', '-extfile', ext];
  const ca = ['-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', '/CN=flowlogs local CA'];
  await openssl(['req', '-x509', ...ca, '-keyout', caKey, '-out', files.ca]);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', files.key, '-out', csr]);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  await openssl(['x509', '-req', '-in', csr, ...sign, '-out', files.cert]);
  // Written last: its presence says the set is complete.
  const pass = `pass:${KEYSTORE_PASSWORD}`;
  await openssl([
    'pkcs12',
    '-export',
    '-in',
    files.cert,
    '-inkey',
    files.key,
    '-certfile',
    files.ca,
    '-passout',
    pass,
    '-out',
    files.keystore,
  ]);
  return files;
}

/** kafkajs's options for the admin user of a secure broker (the runner's own checks, tests). */
export function secureClient(secure: SecureOptions) {
  return {
    ssl: { ca: [readFileSync(join(secure.dir, 'ca.pem'), 'utf8')] },
    sasl: { mechanism: 'scram-sha-512' as const, username: 'admin', password: secure.users.admin },
  };
}

interface Node {
  id: number;
  port: number;
  controllerPort: number;
  data: string;
  props: string;
  pidFile: string;
  logFile: string;
}

function paths(opts: LocalKafkaOptions) {
  const root = join(opts.cacheDir ?? process.env.FLOWLOGS_CACHE_DIR ?? join(REPO_ROOT, '.cache'), 'kafka');
  const port = opts.port ?? 9092;
  const count = opts.brokers ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new Error(`brokers must be a positive integer, not ${count}`);
  const controllerPort = opts.controllerPort ?? port + count;
  const nodes: Node[] = Array.from({ length: count }, (_, i) => {
    const p = port + i;
    return {
      id: i + 1,
      port: p,
      controllerPort: controllerPort + i,
      data: join(root, `data-${p}`),
      props: join(root, `server-${p}.properties`),
      pidFile: join(root, `broker-${p}.pid`),
      logFile: join(root, `broker-${p}.log`),
    };
  });
  if (opts.secure && count > 1) throw new Error('a secure broker runs alone (brokers: 1)');
  if (opts.secure && !opts.secure.users.admin) throw new Error('secure.users needs admin, the super user');
  return { root, jars: join(root, 'jars'), jarsDone: join(root, 'jars', '.resolved'), nodes, secure: opts.secure };
}
type Paths = ReturnType<typeof paths>;

function node(p: Paths, id: number): Node {
  const n = p.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no broker ${id}: the cluster has brokers 1..${p.nodes.length}`);
  return n;
}

/** True when something accepts TCP connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * How many brokers the one on `port` knows (0: it does not answer a metadata request; an open port
 * is not enough, the controller may still be electing).
 */
async function clusterSize(port: number, secure?: SecureOptions): Promise<number> {
  if (!(await listening(port))) return 0;
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({
    brokers: [`127.0.0.1:${port}`],
    ...(secure && secureClient(secure)),
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1000,
  }).admin();
  try {
    await admin.connect();
    return (await admin.describeCluster()).brokers.length;
  } catch {
    return 0;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function answers(port: number, secure?: SecureOptions): Promise<boolean> {
  return (await clusterSize(port, secure)) > 0;
}

async function resolveJars(p: Paths, log: (m: string) => void): Promise<void> {
  if (existsSync(p.jarsDone)) return;
  log(`resolving Kafka jars with Maven into ${p.jars} (once)`);
  mkdirSync(p.jars, { recursive: true });
  await run(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      join(HERE, 'pom.xml'),
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${p.jars}`,
    ],
    { maxBuffer: 16 << 20 },
  );
  writeFileSync(p.jarsDone, new Date().toISOString());
}

function java(p: Paths, mainClass: string, args: string[], heap: string): { cmd: string; args: string[] } {
  return {
    cmd: 'java',
    args: [
      `-Xms${heap}`,
      `-Xmx${heap}`,
      '-XX:+UseG1GC',
      `-Dlog4j.configuration=file:${join(HERE, 'log4j.properties')}`,
      '-cp',
      `${p.jars}/*`,
      mainClass,
      ...args,
    ],
  };
}

/**
 * Each broker's properties. One broker: the internal topics have one replica. Several: the internal
 * topics and the topics created without a factor have three replicas (or as many as there are
 * brokers) and need two in sync, as a production cluster would.
 */
function writeProperties(p: Paths): void {
  const n = p.nodes.length;
  const replicas = Math.min(3, n);
  const minIsr = Math.min(2, n);
  const voters = p.nodes.map((x) => `${x.id}@127.0.0.1:${x.controllerPort}`).join(',');
  const client = p.secure ? 'SASL_SSL' : 'PLAINTEXT';
  for (const x of p.nodes) {
    writeFileSync(
      x.props,
      [
        'process.roles=broker,controller',
        `node.id=${x.id}`,
        `controller.quorum.voters=${voters}`,
        `listeners=${client}://127.0.0.1:${x.port},CONTROLLER://127.0.0.1:${x.controllerPort}`,
        `advertised.listeners=${client}://127.0.0.1:${x.port}`,
        'controller.listener.names=CONTROLLER',
        `listener.security.protocol.map=${client}:${client},CONTROLLER:PLAINTEXT`,
        `inter.broker.listener.name=${client}`,
        ...(p.secure ? secureProperties(p.secure) : []),
        `log.dirs=${x.data}`,
        'num.partitions=4',
        `default.replication.factor=${replicas}`,
        `min.insync.replicas=${minIsr}`,
        `offsets.topic.replication.factor=${replicas}`,
        'offsets.topic.num.partitions=4',
        `transaction.state.log.replication.factor=${replicas}`,
        `transaction.state.log.min.isr=${minIsr}`,
        'transaction.state.log.num.partitions=4',
        'group.initial.rebalance.delay.ms=0',
        `auto.create.topics.enable=${!p.secure}`,
        'delete.topic.enable=true',
        '',
      ].join('\n'),
    );
  }
}

/** SASL_SSL with SCRAM, the broker's keystore, and the ACL authorizer (SecureOptions). */
function secureProperties(secure: SecureOptions): string[] {
  return [
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${secure.users.admin}";`,
    'ssl.keystore.type=PKCS12',
    `ssl.keystore.location=${join(secure.dir, 'server.p12')}`,
    `ssl.keystore.password=${KEYSTORE_PASSWORD}`,
    `ssl.key.password=${KEYSTORE_PASSWORD}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${join(secure.dir, 'ca.pem')}`,
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'allow.everyone.if.no.acl.found=false',
    'super.users=User:admin;User:ANONYMOUS',
  ];
}

/** Formats the storage of the brokers that have none, all with the cluster id of the formatted ones (or a new one). */
async function formatStorage(p: Paths, heap: string): Promise<void> {
  writeProperties(p);
  const meta = (x: Node) => join(x.data, 'meta.properties');
  const unformatted = p.nodes.filter((x) => !existsSync(meta(x)));
  if (!unformatted.length) return;
  const formatted = p.nodes.find((x) => existsSync(meta(x)));
  let clusterId = formatted ? /^cluster\.id=(.+)$/m.exec(readFileSync(meta(formatted), 'utf8'))?.[1] : undefined;
  if (!clusterId) {
    const uuid = java(p, 'kafka.tools.StorageTool', ['random-uuid'], '128m');
    clusterId = (await run(uuid.cmd, uuid.args)).stdout.trim();
  }
  // SCRAM users go into the metadata log's first records (KRaft has no ZooKeeper to hold them before a broker runs).
  const scram = Object.entries(p.secure?.users ?? {}).flatMap(([name, password]) => [
    '--add-scram',
    `SCRAM-SHA-512=[name=${name},password=${password}]`,
  ]);
  for (const x of unformatted) {
    const format = java(p, 'kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', x.props, ...scram], heap);
    await run(format.cmd, format.args);
  }
}

function readPid(x: Node): number | undefined {
  if (!existsSync(x.pidFile)) return undefined;
  const pid = Number(readFileSync(x.pidFile, 'utf8'));
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Launches the broker's JVM (detached: it outlives this process); returns a check that throws once it exited. */
function launch(p: Paths, x: Node, heap: string): () => void {
  const out = openSync(x.logFile, 'a');
  const broker = java(p, 'kafka.Kafka', [x.props], heap);
  const child = spawn(broker.cmd, broker.args, { detached: true, stdio: ['ignore', out, out] });
  writeFileSync(x.pidFile, String(child.pid));
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? -1;
  });
  return () => {
    if (exited !== null) throw new Error(`Kafka broker ${x.id} exited with code ${exited}; see ${x.logFile}`);
  };
}

/** Starts the brokers unless they answer already; idempotent. */
export async function ensureLocalKafka(opts: LocalKafkaOptions = {}): Promise<LocalKafka> {
  const p = paths(opts);
  const log = opts.log ?? (() => {});
  const heap = opts.heap ?? '512m';
  const brokers = p.nodes.map((x) => `127.0.0.1:${x.port}`);
  const stop = async () => {
    await stopLocalKafka(opts);
  };
  const size = p.nodes.length;
  if (p.secure) await localCertificates(p.secure.dir);
  const allUp = async () =>
    (await Promise.all(p.nodes.map((x) => clusterSize(x.port, p.secure)))).every((n) => n >= size);
  if (await allUp()) return { brokers, started: false, stop };
  const down: Node[] = [];
  for (const x of p.nodes) {
    if (await answers(x.port, p.secure)) continue;
    if (readPid(x) !== undefined) continue; // ours, still starting (another caller launched it)
    if (await listening(x.port)) throw new Error(`port ${x.port} is taken by something that is not a Kafka broker`);
    down.push(x);
  }
  if (down.length) {
    mkdirSync(p.root, { recursive: true });
    await resolveJars(p, log);
    await formatStorage(p, heap);
  }
  // All first, then wait: brokers that are controllers answer only once a quorum of them runs.
  const checks = down.map((x) => {
    log(`starting Kafka broker ${x.id} on 127.0.0.1:${x.port} (log: ${x.logFile})`);
    return launch(p, x, heap);
  });
  await waitFor(
    `the Kafka broker${size > 1 ? 's' : ''} on ${brokers.join(',')}`,
    async () => {
      for (const check of checks) check();
      return allUp();
    },
    90_000,
  );
  log(size > 1 ? `Kafka is up: ${size} brokers` : 'Kafka is up');
  return { brokers, started: down.length > 0, stop };
}

/**
 * Stops one broker: SIGTERM (a controlled shutdown: its partitions get other leaders first) waiting
 * until it exits, or `kill: true` for SIGKILL (a crash). False when it was not running.
 */
export async function stopLocalKafkaBroker(
  opts: LocalKafkaOptions,
  id: number,
  how: { kill?: boolean } = {},
): Promise<boolean> {
  const x = node(paths(opts), id);
  const pid = readPid(x);
  if (pid === undefined) return false;
  process.kill(pid, how.kill ? 'SIGKILL' : 'SIGTERM');
  const gone = async () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  };
  try {
    await waitFor(`Kafka broker ${id} (pid ${pid}) to exit`, gone, 30_000);
  } catch {
    process.kill(pid, 'SIGKILL');
    await waitFor(`Kafka broker ${id} (pid ${pid}) to exit`, gone, 10_000);
  }
  rmSync(x.pidFile, { force: true });
  return true;
}

/** Starts one broker of a cluster again (after stopLocalKafkaBroker) and waits until it answers. */
export async function startLocalKafkaBroker(opts: LocalKafkaOptions, id: number): Promise<void> {
  const p = paths(opts);
  const x = node(p, id);
  if (readPid(x) !== undefined) return;
  const check = launch(p, x, opts.heap ?? '512m');
  await waitFor(
    `Kafka broker ${id} on port ${x.port}`,
    async () => {
      check();
      return answers(x.port, p.secure);
    },
    90_000,
  );
}

/**
 * Stops the brokers this runner started, all at once (one after the other, the last would wait for a
 * controller quorum that is gone). True when any was running.
 */
export async function stopLocalKafka(opts: LocalKafkaOptions = {}): Promise<boolean> {
  const stopped = await Promise.all(paths(opts).nodes.map((x) => stopLocalKafkaBroker(opts, x.id)));
  return stopped.some(Boolean);
}

/** Kills the brokers and removes their data: the next start formats anew (its users made again). */
export async function resetLocalKafka(opts: LocalKafkaOptions = {}): Promise<void> {
  const { nodes } = paths(opts);
  // Killed: what a controlled shutdown would save is thrown away.
  await Promise.all(nodes.map((x) => stopLocalKafkaBroker(opts, x.id, { kill: true })));
  for (const x of nodes) rmSync(x.data, { recursive: true, force: true });
}

export interface LocalKafkaStatus {
  /** The first broker's port, whether all answer, the first broker's pid (one broker: that broker). */
  port: number;
  answering: boolean;
  pid: number | undefined;
  nodes: { id: number; port: number; answering: boolean; pid: number | undefined }[];
}

export async function localKafkaStatus(opts: LocalKafkaOptions = {}): Promise<LocalKafkaStatus> {
  const p = paths(opts);
  const nodes = await Promise.all(
    p.nodes.map(async (x) => ({ id: x.id, port: x.port, answering: await answers(x.port, p.secure), pid: readPid(x) })),
  );
  return { port: nodes[0].port, answering: nodes.every((x) => x.answering), pid: nodes[0].pid, nodes };
}
