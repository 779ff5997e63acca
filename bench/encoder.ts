/**
 * The Kafka client's produce encoding in one process, kafkajs's own Encoder and Record against the
 * lean ones (libs/kafka/src/lean-encoder.ts) and the request written whole (lean-produce.ts):
 * kafkajs's produce request (v3) and request framing, loaded four times (kafkajs's own; the lean
 * Encoder alone; the lean Encoder and Record; those and the lean produce request), encode
 * the same messages (by default the capture agent's: packet
 * batches of `--bytes` with a signature header, `--messages` to a request; the publisher's records:
 * `--bytes 600 --messages 500`); rounds alternate, CPU per message.
 *
 *   npm run bench:encoder -- [--bytes N] [--messages N] [--rounds N]
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { leanEncoderInstalled, leanProduceRequest, leanRecord, replaceModule } from '@flowlogs/kafka';
import { intOption } from './lib/args.js';
import { median } from './lib/measure.js';

const require = createRequire(import.meta.url);
const ENCODER = require.resolve('kafkajs/src/protocol/encoder.js');
const PRODUCE = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');
const REQUEST = require.resolve('kafkajs/src/protocol/request.js');
const CHECKSUM = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
const RECORD = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');

interface Options {
  bytes: number;
  messages: number;
  rounds: number;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { bytes: 115_000, messages: 6, rounds: 9 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--bytes') opts.bytes = intOption(argv, i++, '--bytes', 1);
    else if (argv[i] === '--messages') opts.messages = intOption(argv, i++, '--messages', 1);
    else if (argv[i] === '--rounds') opts.rounds = intOption(argv, i++, '--rounds', 1);
    else throw new Error(`unknown argument ${argv[i]} (--bytes N, --messages N, --rounds N)`);
  }
  return opts;
}

type Encode = (messages: { key: string; value: Buffer; headers: Record<string, string> }[]) => Promise<Buffer>;

/**
 * kafkajs's protocol modules loaded anew with `encoder` as their Encoder (the native checksum kept),
 * and the lean Record if `lean` is 'record' or 'request', and the lean produce request if 'request'.
 */
function produceEncoder(encoder: unknown, lean: 'none' | 'record' | 'request'): Encode {
  for (const key of Object.keys(require.cache))
    if (key.includes('/kafkajs/src/protocol/') && key !== CHECKSUM) delete require.cache[key];
  replaceModule(ENCODER, encoder);
  if (lean !== 'none') replaceModule(RECORD, leanRecord(encoder as Parameters<typeof leanRecord>[0], require(RECORD)));
  const produce = lean === 'request' ? leanProduceRequest(require(PRODUCE)) : require(PRODUCE);
  const request = require(REQUEST);
  const Long = require('kafkajs/src/utils/long.js');
  return async (messages) => {
    const payload = produce({
      acks: -1,
      timeout: 30_000,
      producerId: Long.fromInt(7),
      producerEpoch: 0,
      topicData: [{ topic: 'packets', partitions: [{ partition: 0, firstSequence: 0, messages }] }],
    });
    const framed = await request({ correlationId: 1, clientId: 'bench', request: payload });
    return framed.buffer;
  };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (!leanEncoderInstalled) throw new Error('the lean Encoder is not installed (kafkajs loaded first?)');
  const Lean = require(ENCODER);
  const encoders: [string, Encode][] = [
    ['kafkajs', produceEncoder(Object.getPrototypeOf(Lean), 'none')],
    ['lean Encoder', produceEncoder(Lean, 'none')],
    ['lean Record', produceEncoder(Lean, 'record')],
    ['lean request', produceEncoder(Lean, 'request')],
  ];
  const messages = Array.from({ length: opts.messages }, (_, i) => {
    const value = randomBytes(opts.bytes);
    return {
      key: 'eni-0123456789abcdef',
      value,
      headers: { 'flowlogs-signature': createHmac('sha256', 'k').update(value).digest('hex') },
      timestamp: String(1_700_000_000_000 + i),
    };
  });
  const [a, ...others] = await Promise.all(encoders.map(([, encode]) => encode(messages)));
  if (others.some((b) => !a.equals(b))) throw new Error('the encoders wrote different bytes');
  const perRound = Math.max(1, Math.round(200e6 / (opts.bytes * opts.messages)));
  const us = new Map<string, number[]>(encoders.map(([name]) => [name, []]));
  for (let round = 0; round < opts.rounds; round++)
    for (const [name, encode] of encoders) {
      const cpu = process.cpuUsage();
      for (let i = 0; i < perRound; i++) await encode(messages);
      const used = process.cpuUsage(cpu);
      us.get(name)!.push((used.user + used.system) / perRound / opts.messages);
    }
  console.log(
    `a produce request of ${opts.messages} × ${opts.bytes} B messages (${a.length} B framed, the same bytes from each), ${opts.rounds} alternating rounds of ${perRound} requests:`,
  );
  for (const [name, values] of us)
    console.log(
      `  ${name.padEnd(16)} ${median(values).toFixed(1)} µs CPU per message (median; rounds ${values.map((v) => v.toFixed(0)).join(', ')})`,
    );
  for (const name of ['lean Encoder', 'lean Record', 'lean request'])
    console.log(
      `  ${name}: ${(median(us.get('kafkajs')!) / median(us.get(name)!)).toFixed(2)}× less CPU per message than kafkajs's`,
    );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
