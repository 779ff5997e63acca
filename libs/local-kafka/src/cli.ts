/**
 * `flowlogs-kafka start|stop|status [--brokers N]`: the local Kafka from the shell (used by .ci/run).
 * One broker by default; `--brokers 3` a cluster of three (ports KAFKA_LOCAL_PORT, +1, +2).
 */
import { parseArgs } from 'node:util';
import { ensureLocalKafka, localKafkaStatus, stopLocalKafka } from './kafka.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { brokers: { type: 'string', default: '1' } },
});
const command = positionals[0] ?? 'status';
const brokers = Number(values.brokers);
const port = process.env.KAFKA_LOCAL_PORT ? Number(process.env.KAFKA_LOCAL_PORT) : undefined;
const log = (m: string) => console.error(`[kafka] ${m}`);
const usage = 'usage: flowlogs-kafka start|stop|status [--brokers N]';

if (!Number.isInteger(brokers) || brokers < 1) {
  console.error(`--brokers must be a positive integer, not "${values.brokers}"\n${usage}`);
  process.exit(2);
}
if (command === 'start') {
  const kafka = await ensureLocalKafka({ port, brokers, log });
  console.log(kafka.brokers.join(','));
  log(kafka.started ? 'started' : 'already running, reused');
} else if (command === 'stop') {
  log((await stopLocalKafka({ port, brokers })) ? 'stopped' : 'no broker of ours was running');
} else if (command === 'status') {
  console.log(JSON.stringify(await localKafkaStatus({ port, brokers })));
} else {
  console.error(usage);
  process.exit(2);
}
