/**
 * Local Kafka of a fault scenario's own (the shared broker is never touched): one broker or a
 * cluster of three, fresh data under test-output/faults/<name>/, the repo's resolved jars linked
 * rather than resolved again; which broker leads which partitions; and the pipeline's progress
 * sampled, to say how long records stalled after a fault.
 */
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { ensureLocalKafka, stopLocalKafka, type LocalKafkaOptions } from '@flowlogs/local-kafka';
import { OUT, ROOT, sleep } from './harness.js';

export function localKafkaOptions(name: string, port: number, brokers = 1): LocalKafkaOptions {
  return {
    port,
    brokers,
    cacheDir: join(OUT, `kafka-${name}`),
    heap: '384m',
    log: (m) => console.log(`[faults] ${name} kafka: ${m}`),
  };
}

/** A fresh cluster (no data of an earlier run); its brokers' addresses. */
export async function startFreshKafka(opts: LocalKafkaOptions): Promise<string[]> {
  await stopLocalKafka(opts);
  rmSync(opts.cacheDir!, { recursive: true, force: true });
  mkdirSync(join(opts.cacheDir!, 'kafka'), { recursive: true });
  const cache = process.env.FLOWLOGS_CACHE_DIR ?? join(ROOT, '.cache');
  const sharedJars = join(cache, 'kafka', 'jars');
  if (existsSync(join(sharedJars, '.resolved'))) symlinkSync(sharedJars, join(opts.cacheDir!, 'kafka', 'jars'));
  return (await ensureLocalKafka(opts)).brokers;
}

/** How many of the topics' partitions each broker leads (broker id → count; every live broker listed). */
export async function leadership(kafka: Kafka, topics: string[]): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { brokers } = await admin.describeCluster();
    const counts = new Map(brokers.map((b) => [b.nodeId, 0]));
    const { topics: meta } = await admin.fetchTopicMetadata({ topics });
    for (const t of meta) for (const p of t.partitions) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
    return counts;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** The broker leading most of the topics' partitions (the lowest id among equals). */
export async function busiestLeader(
  kafka: Kafka,
  topics: string[],
): Promise<{ id: number; counts: Map<number, number> }> {
  const counts = await leadership(kafka, topics);
  const [id] = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0];
  return { id, counts };
}

/** Partitions of every topic whose in-sync replicas are fewer than their replicas. */
export async function underReplicated(kafka: Kafka): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata();
    return topics.reduce((n, t) => n + t.partitions.filter((p) => p.isr.length < p.replicas.length).length, 0);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export const describeCounts = (counts: Map<number, number>) =>
  [...counts].map(([id, n]) => `broker ${id}: ${n}`).join(', ');

/**
 * Samples a count (the records in Postgres) every 250 ms from now on. `stallAfter(t)` is the
 * longest time after t in which the count did not grow while it was below `target`: how long
 * records stalled after a fault at t (a gap between windows of the capture counts too, so a
 * baseline run's figure is the floor).
 */
export function progressMonitor(count: () => Promise<number>, target: number) {
  const samples: { t: number; n: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const n = await count().catch(() => undefined);
      if (n !== undefined) samples.push({ t: Date.now(), n });
      if (n !== undefined && n >= target) break;
      await sleep(250);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
    /** When the count reached the target (Infinity before). */
    doneAt(): number {
      return samples.find((s) => s.n >= target)?.t ?? Number.POSITIVE_INFINITY;
    },
    /** Up to `until` (a later fault), when given. */
    stallAfter(t: number, until = Infinity): number {
      let longest = 0;
      let lastGrowth = t;
      let prev = samples.filter((s) => s.t <= t).pop()?.n ?? 0;
      for (const s of samples) {
        if (s.t <= t) continue;
        if (s.t > until) return Math.max(longest, until - lastGrowth);
        if (s.n > prev) {
          longest = Math.max(longest, s.t - lastGrowth);
          lastGrowth = s.t;
          prev = s.n;
        }
        if (s.n >= target) break;
      }
      return longest;
    },
  };
}
