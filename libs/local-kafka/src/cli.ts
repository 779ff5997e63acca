/** `flowlogs-kafka start|stop|status`: the local broker runner from the shell (used by .ci/run). */
import { ensureLocalKafka, localKafkaStatus, stopLocalKafka } from './kafka.js';

const command = process.argv[2] ?? 'status';
const port = process.env.KAFKA_LOCAL_PORT ? Number(process.env.KAFKA_LOCAL_PORT) : undefined;
const log = (m: string) => console.error(`[kafka] ${m}`);

if (command === 'start') {
  const kafka = await ensureLocalKafka({ port, log });
  console.log(kafka.brokers.join(','));
  log(kafka.started ? 'started' : 'already running, reused');
} else if (command === 'stop') {
  log((await stopLocalKafka({ port })) ? 'stopped' : 'no broker of ours was running');
} else if (command === 'status') {
  console.log(JSON.stringify(await localKafkaStatus({ port })));
} else {
  console.error('usage: flowlogs-kafka start|stop|status');
  process.exit(2);
}
