/**
 * What `docker compose up` needs on a machine where no image registry answers, made from Debian:
 * - the base image the Dockerfiles name (debian:trixie-slim): debootstrap --variant=minbase, imported;
 * - stand-ins for the official images docker-compose.yml names (apache/kafka, postgres), built on it
 *   from test/compose/images (each keeps the part of its image's contract the compose file relies on);
 * - compose v2 (Debian trixie's docker-compose package: bookworm's is 1.29, which has no `up --wait`).
 * Each is made once and kept: images in podman's store, the compose binary in the cache folder.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO = new URL('../../', import.meta.url).pathname;
const HERE = new URL('./', import.meta.url).pathname;
export const CACHE = join(process.env.FLOWLOGS_CACHE_DIR ?? join(REPO, '.cache'), 'compose');
export const COMPOSE_BIN = join(CACHE, 'docker-compose');

const DEBIAN_SUITE = 'trixie';
const DEBIAN_IMAGE = `docker.io/library/debian:${DEBIAN_SUITE}-slim`;
/** The machine's locally added CA certificates (update-ca-certificates' input). */
const LOCAL_CAS = '/usr/local/share/ca-certificates';

type Log = (msg: string) => void;

const sh = async (cmd: string, args: string[], opts: { cwd?: string } = {}) =>
  (await run(cmd, args, { maxBuffer: 64 << 20, ...opts })).stdout;

async function imageExists(name: string): Promise<boolean> {
  return run('podman', ['image', 'exists', name]).then(
    () => true,
    () => false,
  );
}

/** The Debian mirror apt uses on this machine (deb822 or one-line sources). */
async function debianMirror(): Promise<string> {
  const sources = await sh('sh', [
    '-c',
    'cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true',
  ]);
  const uri =
    /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(sources)?.[1] ??
    /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m.exec(sources)?.[1];
  return uri ?? 'http://deb.debian.org/debian';
}

/**
 * debian:trixie-slim from debootstrap. Test-only addition: this machine's locally added CA certificates
 * (and NODE_EXTRA_CA_CERTS pointing at the bundle), so builds reach package registries as the host does.
 */
async function ensureDebian(log: Log): Promise<void> {
  if (await imageExists(DEBIAN_IMAGE)) return;
  const mirror = await debianMirror();
  const root = mkdtempSync(join(tmpdir(), 'flowlogs-rootfs-'));
  try {
    log(`debootstrap ${DEBIAN_SUITE} from ${mirror} (once, about 80 s)`);
    await sh('debootstrap', ['--variant=minbase', '--include=ca-certificates', DEBIAN_SUITE, root, mirror]);
    if (existsSync(LOCAL_CAS)) {
      for (const crt of readdirSync(LOCAL_CAS).filter((f) => f.endsWith('.crt')))
        cpSync(join(LOCAL_CAS, crt), join(root, LOCAL_CAS, crt));
    }
    await sh('chroot', [root, 'update-ca-certificates']);
    rmSync(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
    mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
    await sh('sh', [
      '-c',
      `tar -C "$1" -c . | podman import --change 'CMD ["/bin/bash"]' \
      --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' - "$2"`,
      'import',
      root,
      DEBIAN_IMAGE,
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Compose v2 from trixie's docker-compose package, copied out of a throwaway container. */
async function ensureComposeV2(log: Log): Promise<void> {
  if (existsSync(COMPOSE_BIN)) return;
  log('compose v2 from Debian trixie (once)');
  mkdirSync(CACHE, { recursive: true });
  await sh('podman', [
    'run',
    '--rm',
    '-v',
    `${CACHE}:/out`,
    DEBIAN_IMAGE,
    'sh',
    '-c',
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-compose >/dev/null \
     && cp /usr/libexec/docker/cli-plugins/docker-compose /out/docker-compose.new',
  ]);
  chmodSync(join(CACHE, 'docker-compose.new'), 0o755);
  await sh('mv', [join(CACHE, 'docker-compose.new'), COMPOSE_BIN]);
}

/** The stand-in for apache/kafka: its Dockerfile and scripts, with Kafka's jars resolved by Maven (cached in ~/.m2). */
async function buildKafka(tag: string, log: Log): Promise<void> {
  const context = mkdtempSync(join(tmpdir(), 'flowlogs-kafka-image-'));
  try {
    cpSync(join(HERE, 'images/kafka'), context, { recursive: true });
    await sh('mvn', [
      '-q',
      '-B',
      '-f',
      join(REPO, 'libs/local-kafka/kafka/pom.xml'),
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${join(context, 'jars')}`,
    ]);
    log(`building the stand-in ${tag}`);
    await sh('podman', ['build', '-q', '-t', tag, context]);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** The base image and compose v2: what reading the compose file and building on it need. */
export async function ensureTools(log: Log): Promise<void> {
  await ensureDebian(log);
  await ensureComposeV2(log);
}

/** Images the compose file names, by service. */
export interface ComposeImages {
  kafka: string;
  postgres: string;
}

/**
 * The stand-ins for the official images `up` would pull. They are rebuilt each run (podman's layer
 * cache makes that seconds) so a change to their files is never missed.
 */
export async function ensureImages(images: ComposeImages, log: Log): Promise<void> {
  const fresh = !(await imageExists(images.kafka)) || !(await imageExists(images.postgres));
  if (fresh) log('building the Kafka and Postgres stand-ins (once, about 2 min)');
  await buildKafka(images.kafka, log);
  await sh('podman', ['build', '-q', '-t', images.postgres, join(HERE, 'images/postgres')]);
}
