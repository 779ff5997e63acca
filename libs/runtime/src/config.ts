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

/** An optional setting; an empty value (`KAFKA_SASL_USERNAME=` in an env file) counts as unset. */
const optionalText = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

/**
 * How the services reach Kafka: TLS and SASL. Files are named here and read once, when the client
 * is made (kafkaClientOptions in @flowlogs/kafka).
 */
export const KafkaSecurityFields = {
  KAFKA_SECURITY_PROTOCOL: z.enum(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL']).default('PLAINTEXT'),
  /** Kafka spells them SCRAM-SHA-512; kafkajs scram-sha-512: either is taken. */
  KAFKA_SASL_MECHANISM: z.preprocess(
    (v) => (typeof v === 'string' && v !== '' ? v.toLowerCase() : undefined),
    z.enum(['scram-sha-512', 'scram-sha-256', 'plain']).default('scram-sha-512'),
  ),
  KAFKA_SASL_USERNAME: optionalText,
  KAFKA_SASL_PASSWORD: optionalText,
  /** The password in a file (a mounted secret); its trailing newline is not part of it. */
  KAFKA_SASL_PASSWORD_FILE: optionalText,
  /** PEM CA bundle the brokers' certificates are checked against (default: Node's public CAs). */
  KAFKA_SSL_CA_FILE: optionalText,
  /** PEM client certificate and key, for brokers that authenticate clients by certificate (mTLS). */
  KAFKA_SSL_CERT_FILE: optionalText,
  KAFKA_SSL_KEY_FILE: optionalText,
};
const KafkaSecurityObject = z.object(KafkaSecurityFields);
export type KafkaSecurity = z.infer<typeof KafkaSecurityObject>;

/** The Kafka security settings with every default: plaintext, no credentials. */
export const PLAINTEXT: KafkaSecurity = KafkaSecurityObject.parse({});

/**
 * What is wrong with a combination of Kafka security settings, one entry per variable (pure): SASL
 * without a user or password, or with two passwords; a certificate without its key; and settings
 * that the chosen protocol would ignore (an operator who set a password but not the protocol would
 * otherwise connect without it).
 */
export function kafkaSecurityProblems(s: KafkaSecurity): { variable: keyof KafkaSecurity; message: string }[] {
  const protocol = s.KAFKA_SECURITY_PROTOCOL;
  const sasl = protocol.startsWith('SASL_');
  const tls = protocol.endsWith('SSL');
  const problems: { variable: keyof KafkaSecurity; message: string }[] = [];
  const unused = (variable: keyof KafkaSecurity, needs: string) =>
    problems.push({ variable, message: `set, but KAFKA_SECURITY_PROTOCOL=${protocol} does not use it (${needs})` });
  if (sasl) {
    if (!s.KAFKA_SASL_USERNAME)
      problems.push({ variable: 'KAFKA_SASL_USERNAME', message: `required with KAFKA_SECURITY_PROTOCOL=${protocol}` });
    if (!s.KAFKA_SASL_PASSWORD && !s.KAFKA_SASL_PASSWORD_FILE)
      problems.push({
        variable: 'KAFKA_SASL_PASSWORD',
        message: `required with KAFKA_SECURITY_PROTOCOL=${protocol} (or KAFKA_SASL_PASSWORD_FILE)`,
      });
    if (s.KAFKA_SASL_PASSWORD && s.KAFKA_SASL_PASSWORD_FILE)
      problems.push({
        variable: 'KAFKA_SASL_PASSWORD_FILE',
        message: 'set together with KAFKA_SASL_PASSWORD: give one',
      });
  } else {
    for (const v of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'] as const)
      if (s[v]) unused(v, 'SASL_SSL or SASL_PLAINTEXT does');
  }
  if (tls) {
    if (s.KAFKA_SSL_CERT_FILE && !s.KAFKA_SSL_KEY_FILE)
      problems.push({
        variable: 'KAFKA_SSL_KEY_FILE',
        message: "required with KAFKA_SSL_CERT_FILE (the certificate's key)",
      });
    if (s.KAFKA_SSL_KEY_FILE && !s.KAFKA_SSL_CERT_FILE)
      problems.push({
        variable: 'KAFKA_SSL_CERT_FILE',
        message: "required with KAFKA_SSL_KEY_FILE (the key's certificate)",
      });
  } else {
    for (const v of ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const)
      if (s[v]) unused(v, 'SSL or SASL_SSL does');
  }
  return problems;
}

/** Settings every service shares. */
export const CommonConfig = z
  .object({
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
    /** With sslmode, sslrootcert, sslcert and sslkey as libpq reads them (pgConnection in @flowlogs/db). */
    DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/flowlogs'),
    /** Partitions of the packets and records topics and of every log topic's Kafka topic (the unit of scale-out). */
    KAFKA_PARTITIONS: z.coerce.number().int().min(1).default(4),
    /** Replicas of every topic the system creates (1 for one broker; 3 on a cluster). */
    KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).default(1),
    /** Replicas that must have a write (acks=all) before it counts; 2 on a cluster of 3: one broker may die. */
    KAFKA_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).default(1),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ...KafkaSecurityFields,
  })
  .superRefine((config, ctx) => {
    for (const { variable, message } of kafkaSecurityProblems(config))
      ctx.addIssue({ code: 'custom', path: [variable], message });
  });

/** An integer from the environment, e.g. a port or a number of milliseconds. */
export const envInt = (def: number) => z.coerce.number().int().nonnegative().default(def);

/** Where a service serves /metrics, /healthz and /readyz; each service has its own default port. */
export const metricsListener = (port: number) => ({
  METRICS_HOST: z.string().default('127.0.0.1'),
  METRICS_PORT: envInt(port).pipe(z.number().max(65_535)),
});
