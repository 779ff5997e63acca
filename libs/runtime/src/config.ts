import { z } from 'zod';

export class ConfigError extends Error {}

/** Parses the environment with a service's zod schema once; the error names every bad variable and why. */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Settings every service shares. */
export const CommonConfig = z.object({
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:9092')
    .transform((s) =>
      s
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    ),
  FLOWLOGS_TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only')
    .default('flowlogs'),
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/flowlogs'),
  /** Partitions of the packets and records topics and of every log topic's Kafka topic (the unit of scale-out). */
  KAFKA_PARTITIONS: z.coerce.number().int().min(1).default(4),
  /** Replicas of every topic the system creates (1 for one broker; 3 on a cluster). */
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).default(1),
  /** Replicas that must have a write (acks=all) before it counts; 2 on a cluster of 3: one broker may die. */
  KAFKA_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).default(1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** An integer from the environment, e.g. a port or a number of milliseconds. */
export const envInt = (def: number) => z.coerce.number().int().nonnegative().default(def);

/** Where a service serves /metrics, /healthz and /readyz; each service has its own default port. */
export const metricsListener = (port: number) => ({
  METRICS_HOST: z.string().default('127.0.0.1'),
  METRICS_PORT: envInt(port).pipe(z.number().max(65_535)),
});
