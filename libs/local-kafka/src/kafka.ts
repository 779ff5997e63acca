/**
 * A single-node Kafka broker (KRaft) for machines without Docker: resolves the broker's jars with
 * Maven into a cache folder once, formats storage once, starts it on 127.0.0.1 with a small heap,
 * waits until it answers, and stops it cleanly. A broker already answering on the port is reused.
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
  port?: number;
  controllerPort?: number;
  heap?: string;
  log?: (msg: string) => void;
}

export interface LocalKafka {
  brokers: string[];
  /** True when this call started the broker; false when one was already running. */
  started: boolean;
  stop(): Promise<void>;
}

function paths(opts: LocalKafkaOptions) {
  const root = join(opts.cacheDir ?? process.env.FLOWLOGS_CACHE_DIR ?? join(REPO_ROOT, '.cache'), 'kafka');
  const port = opts.port ?? 9092;
  return {
    root,
    port,
    controllerPort: opts.controllerPort ?? port + 1,
    jars: join(root, 'jars'),
    jarsDone: join(root, 'jars', '.resolved'),
    data: join(root, `data-${port}`),
    props: join(root, `server-${port}.properties`),
    pidFile: join(root, `broker-${port}.pid`),
    logFile: join(root, `broker-${port}.log`),
  };
}

/** True when something accepts TCP connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(false));
  });
}

/** The broker answers a metadata request (not just an open port: the controller may still be electing). */
async function answers(port: number): Promise<boolean> {
  if (!(await listening(port))) return false;
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000 }).admin();
  try {
    await admin.connect();
    const { brokers } = await admin.describeCluster();
    return brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function resolveJars(p: ReturnType<typeof paths>, log: (m: string) => void): Promise<void> {
  if (existsSync(p.jarsDone)) return;
  log(`resolving Kafka jars with Maven into ${p.jars} (once)`);
  mkdirSync(p.jars, { recursive: true });
  await run('mvn', ['-q', '-B', '-f', join(HERE, 'pom.xml'), 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${p.jars}`], { maxBuffer: 16 << 20 });
  writeFileSync(p.jarsDone, new Date().toISOString());
}

function java(p: ReturnType<typeof paths>, mainClass: string, args: string[], heap: string): { cmd: string; args: string[] } {
  return {
    cmd: 'java',
    args: [`-Xms${heap}`, `-Xmx${heap}`, '-XX:+UseG1GC', `-Dlog4j.configuration=file:${join(HERE, 'log4j.properties')}`, '-cp', `${p.jars}/*`, mainClass, ...args],
  };
}

async function formatStorage(p: ReturnType<typeof paths>, heap: string): Promise<void> {
  writeFileSync(p.props, [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${p.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${p.port},CONTROLLER://127.0.0.1:${p.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${p.port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${p.data}`,
    'num.partitions=4',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=4',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    'delete.topic.enable=true',
    '',
  ].join('\n'));
  if (existsSync(join(p.data, 'meta.properties'))) return;
  const uuid = java(p, 'kafka.tools.StorageTool', ['random-uuid'], '128m');
  const { stdout } = await run(uuid.cmd, uuid.args);
  const format = java(p, 'kafka.tools.StorageTool', ['format', '-t', stdout.trim(), '-c', p.props], heap);
  await run(format.cmd, format.args);
}

function readPid(p: ReturnType<typeof paths>): number | undefined {
  if (!existsSync(p.pidFile)) return undefined;
  const pid = Number(readFileSync(p.pidFile, 'utf8'));
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

/** Starts the broker unless one answers already; idempotent. */
export async function ensureLocalKafka(opts: LocalKafkaOptions = {}): Promise<LocalKafka> {
  const p = paths(opts);
  const log = opts.log ?? (() => {});
  const heap = opts.heap ?? '512m';
  const brokers = [`127.0.0.1:${p.port}`];
  const stop = async () => { await stopLocalKafka(opts); };
  if (await answers(p.port)) return { brokers, started: false, stop };
  if (readPid(p) !== undefined) {
    // Our broker is still starting (another caller launched it): wait for it rather than start a second one.
    await waitFor(`the Kafka broker on port ${p.port}`, () => answers(p.port), 90_000);
    return { brokers, started: false, stop };
  }
  if (await listening(p.port)) throw new Error(`port ${p.port} is taken by something that is not a Kafka broker`);
  mkdirSync(p.root, { recursive: true });
  await resolveJars(p, log);
  await formatStorage(p, heap);
  log(`starting Kafka on 127.0.0.1:${p.port} (log: ${p.logFile})`);
  const out = openSync(p.logFile, 'a');
  const broker = java(p, 'kafka.Kafka', [p.props], heap);
  const child = spawn(broker.cmd, broker.args, { detached: true, stdio: ['ignore', out, out] });
  writeFileSync(p.pidFile, String(child.pid));
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => { exited = code ?? -1; });
  await waitFor(`the Kafka broker on port ${p.port}`, async () => {
    if (exited !== null) throw new Error(`Kafka exited with code ${exited}; see ${p.logFile}`);
    return answers(p.port);
  }, 90_000);
  log('Kafka is up');
  return { brokers, started: true, stop };
}

/** Stops the broker this runner started (SIGTERM: a controlled shutdown), waiting until it exits. */
export async function stopLocalKafka(opts: LocalKafkaOptions = {}): Promise<boolean> {
  const p = paths(opts);
  const pid = readPid(p);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  const alive = async () => { try { process.kill(pid, 0); return false; } catch { return true; } };
  try {
    await waitFor(`Kafka (pid ${pid}) to exit`, alive, 30_000);
  } catch {
    process.kill(pid, 'SIGKILL');
  }
  rmSync(p.pidFile, { force: true });
  return true;
}

export async function localKafkaStatus(opts: LocalKafkaOptions = {}): Promise<{ port: number; answering: boolean; pid: number | undefined }> {
  const p = paths(opts);
  return { port: p.port, answering: await answers(p.port), pid: readPid(p) };
}
