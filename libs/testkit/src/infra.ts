/**
 * Where the tests find a real Kafka broker and a real Postgres, the same test code in every case:
 * KAFKA_BROKERS / DATABASE_URL when set; else containers when a container runtime answers;
 * else the local broker runner of libs/local-kafka and the machine's PostgreSQL on 127.0.0.1:5432.
 */
import { ensureLocalKafka } from '@flowlogs/local-kafka';

export interface Infra {
  brokers: string[];
  /** A server URL whose database part the tests replace with a database of their own. */
  databaseUrl: string;
  stop(): Promise<void>;
}

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

async function containerRuntimeAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export async function startInfra(log: (m: string) => void): Promise<Infra> {
  const stops: Array<() => Promise<unknown>> = [];
  let brokers = process.env.KAFKA_BROKERS?.split(',').filter(Boolean);
  let databaseUrl = process.env.DATABASE_URL;
  const useContainers = (!brokers || !databaseUrl) && (await containerRuntimeAvailable());
  if (!brokers) {
    if (useContainers) {
      const { KafkaContainer } = await import('@testcontainers/kafka');
      const kafka = await new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start();
      brokers = [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`];
      stops.push(() => kafka.stop());
      log(`Kafka in a container at ${brokers[0]}`);
    } else {
      const kafka = await ensureLocalKafka({ log });
      brokers = kafka.brokers;
      if (kafka.started && !process.env.FLOWLOGS_KEEP_KAFKA) stops.push(() => kafka.stop());
      log(`Kafka from the local runner at ${brokers[0]}`);
    }
  }
  if (!databaseUrl) {
    if (useContainers) {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const pg = await new PostgreSqlContainer('postgres:15-alpine').start();
      databaseUrl = pg.getConnectionUri();
      stops.push(() => pg.stop());
    } else {
      databaseUrl = LOCAL_POSTGRES;
    }
  }
  return {
    brokers,
    databaseUrl,
    async stop() {
      for (const stop of stops.reverse()) await stop();
    },
  };
}
