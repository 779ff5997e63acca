/**
 * The publisher's delivery to a log topic, alone: its records (OK TCP records, each keyed by its flow,
 * as JSON, with the record-id header) built as the publisher builds them, then sent in one transaction
 * per batch with kafkajs as @flowlogs/kafka sets it up (per-partition sends, the lean Encoder and
 * Record, the integer murmur2) to the local broker; CPU per record for each part, median of the
 * rounds after a warm-up. For before/after figures run it on both commits, alternating (farm-bench).
 *
 *   npm run bench:deliver -- [--records N] [--rounds N]
 */
import { randomBytes } from 'node:crypto';
import { flowKeyOf, formatRecord } from '@flowlogs/contracts';
import { createKafka, reliableProducer, sendBounded } from '@flowlogs/kafka';
import { createLogger } from '@flowlogs/runtime';
import { makeRecord } from '@flowlogs/testkit';
import { intOption } from './lib/args.js';
import { median } from './lib/measure.js';
import { ensureKafka, machineDescription } from './lib/pipeline-services.js';

const WARM_UP_ROUNDS = 3;

function parseArgs(argv: string[]): { records: number; rounds: number } {
  const opts = { records: 3000, rounds: 20 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--records') opts.records = intOption(argv, i++, '--records', 1);
    else if (argv[i] === '--rounds') opts.rounds = intOption(argv, i++, '--rounds', 1);
    else throw new Error(`unknown argument ${argv[i]} (--records N, --rounds N)`);
  }
  return opts;
}

const cpuMicros = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  console.log(`machine: ${machineDescription()}`);
  ensureKafka();
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const kafka = createKafka(brokers, 'bench-deliver', createLogger('bench', 'warn'));
  const topic = `benchdeliver${randomBytes(3).toString('hex')}.log-topic`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
  const producer = reliableProducer(kafka, `${topic}.tx`);
  await producer.connect();
  try {
    const records = Array.from({ length: opts.records }, (_, i) =>
      makeRecord({ srcport: 1024 + (i % 60_000), dstport: 443, packets: 1 + i, bytes: 60 * (1 + i) }),
    );
    const build: number[] = [];
    const send: number[] = [];
    for (let round = 0; round < WARM_UP_ROUNDS + opts.rounds; round++) {
      const start = process.cpuUsage();
      const messages = records.map((r) => ({
        key: flowKeyOf(r, '-'),
        value: formatRecord(r, 'json'),
        headers: { 'flowlogs-record-id': r.recordId },
      }));
      const built = cpuMicros(start);
      const tx = await producer.transaction();
      await sendBounded(tx, topic, messages);
      await tx.commit();
      const sent = cpuMicros(start) - built;
      if (round < WARM_UP_ROUNDS) continue;
      build.push(built / opts.records);
      send.push(sent / opts.records);
    }
    console.log(
      `${opts.rounds} transactions of ${opts.records} records (${formatRecord(records[0], 'json').length} B of JSON each) to ${topic}, after ${WARM_UP_ROUNDS} to warm up; CPU per record, median:`,
    );
    console.log(`  build (key, JSON, header)  ${median(build).toFixed(2)} µs`);
    console.log(`  send and commit            ${median(send).toFixed(2)} µs`);
  } finally {
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
