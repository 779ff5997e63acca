/**
 * kafkajs builds a produce request's record batch from objects: per message a copy of it with its
 * deltas, a Record encoder, then the batch body, the batch, and the partition's entry, each an
 * encoder of its own that the next one copies or keeps (lean-encoder.ts). For the publisher's
 * deliveries (one ~600 B message per flow record) that was most of its send CPU. This module gives
 * kafkajs a produce request that writes an uncompressed request whole into one buffer, sized from
 * its messages and grown if need be: the same bytes, byte for byte, as kafkajs's own. Anything else
 * (compression, a record the lean Record leaves to kafkajs) goes to kafkajs's own encode. It replaces
 * kafkajs's v3 produce request in the require cache (v4–v7 are built on it), so it must be evaluated
 * before kafkajs sends anything: client.ts imports it first, like the others.
 */
import { type RecordFields, leanWritable, recordRoom, writeRecord } from './lean-encoder.js';
import { kafkajsRequire as require, loadOwn, replaceModule } from './module-cache.js';

const PRODUCE_REQUEST_MODULE = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');
const ENCODER_MODULE = require.resolve('kafkajs/src/protocol/encoder.js');
const CHECKSUM_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
const LONG_MODULE = require.resolve('kafkajs/src/utils/long.js');

interface Long {
  getHighBits(): number;
  getLowBits(): number;
}
interface LongClass {
  fromValue(v: unknown): Long;
  fromInt(v: number): Long;
}

interface ProduceMessage extends Omit<RecordFields, 'offsetDelta' | 'timestampDelta'> {
  timestamp?: number | string | null;
}
/** What kafkajs's producer hands its produce request. */
export interface ProduceArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: {
    topic: string;
    partitions: { partition: number; firstSequence?: number; messages: ProduceMessage[] }[];
  }[];
}
interface ProduceRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<unknown>;
}
type ProduceRequestModule = (args: ProduceArgs) => ProduceRequest;

const NO_COMPRESSION = 0;
const MAGIC_BYTE = 2;
const TRANSACTIONAL = 16;
/** A record batch's fixed fields after its length: leader epoch, magic, CRC, then the body's before its records. */
const BATCH_FIXED = 4 + 1 + 4 + (2 + 4 + 8 + 8 + 8 + 2 + 4 + 4);

/**
 * kafkajs's Long, checksum and Encoder, as the require cache holds them once the others are installed:
 * looked up at the first request, not at every one (a require, even of a resolved path, goes through
 * the module loader's hooks: under tsx, a tenth of the capture agent's encoding).
 */
let parts:
  | { Long: LongClass; crc32c: (b: Buffer) => number; Encoder: new () => { writeBufferInternal(b: Buffer): void } }
  | undefined;
const kafkajsParts = () =>
  (parts ??= {
    Long: require(LONG_MODULE) as LongClass,
    crc32c: require(CHECKSUM_MODULE) as (b: Buffer) => number,
    Encoder: require(ENCODER_MODULE) as new () => { writeBufferInternal(b: Buffer): void },
  });

/** A record's bytes besides its key and value, as first sized: varints, attributes, one header of ~60 bytes. */
const RECORD_EXTRA = 96;

/** A key's or value's length in UTF-16 units or bytes: what a request's first buffer is sized from. */
const lengthOf = (v: unknown): number => (typeof v === 'string' || Buffer.isBuffer(v) ? v.length : 0);

/** A request's buffer, grown as records are written. */
class Output {
  buf: Buffer;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  /** Room for `bytes` more after `at`. */
  room(at: number, bytes: number): Buffer {
    if (at + bytes > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, at + bytes));
      this.buf.copy(grown, 0, 0, at);
      this.buf = grown;
    }
    return this.buf;
  }
}

/**
 * Writes one partition's record batch at `at` (kafkajs's produce/v3/request.js and
 * recordBatch/v0: the same deltas, timestamps and fields); answers where it ends, or -1 when a
 * record needs kafkajs's own Record.
 */
function writePartition(
  out: Output,
  at: number,
  Long: LongClass,
  crc32c: (b: Buffer) => number,
  batch: { attributes: number; producerId: Long; producerEpoch: number },
  { partition, firstSequence, messages }: ProduceArgs['topicData'][number]['partitions'][number],
): number {
  if (!messages.length) return -1;
  const dateNow = Date.now();
  // As kafkajs orders them (a plain sort), so the batch's first and max timestamps are its own.
  const stamped = messages.map((m) => m.timestamp).filter((t) => t != null);
  const timestamps = stamped.length ? stamped.sort() : [dateNow];
  const first = timestamps[0] as number;
  let buf = out.room(at, 4 + 4 + 8 + 4 + BATCH_FIXED);
  at = buf.writeInt32BE(partition, at);
  const sizeAt = at;
  at = writeLong(buf, at + 4, Long.fromInt(0)); // first offset
  const lengthAt = at;
  at = buf.writeInt32BE(0, at + 4); // partition leader epoch
  at = buf.writeInt8(MAGIC_BYTE, at);
  const crcAt = at;
  const bodyAt = at + 4;
  at = buf.writeInt16BE(batch.attributes, bodyAt);
  at = buf.writeInt32BE(messages.length - 1, at);
  at = writeLong(buf, at, Long.fromValue(first));
  at = writeLong(buf, at, Long.fromValue(timestamps[timestamps.length - 1]));
  at = writeLong(buf, at, batch.producerId);
  at = buf.writeInt16BE(batch.producerEpoch, at);
  at = buf.writeInt32BE(firstSequence === undefined ? 0 : firstSequence, at);
  at = buf.writeInt32BE(messages.length, at);
  for (let i = 0; i < messages.length; i++) {
    const { key, value, headers, timestamp } = messages[i];
    const record = { key, value, headers, offsetDelta: i, timestampDelta: ((timestamp || dateNow) as number) - first };
    if (!leanWritable(record)) return -1;
    buf = out.room(at, recordRoom(record));
    at = writeRecord(buf, at, record);
  }
  buf.writeInt32BE(at - sizeAt - 4, sizeAt);
  buf.writeInt32BE(at - lengthAt - 4, lengthAt);
  buf.writeUInt32BE(crc32c(buf.subarray(bodyAt, at)), crcAt);
  return at;
}

/**
 * The request's payload (after the request header) as kafkajs's v3 produce request writes it, in one
 * buffer; undefined when a record needs kafkajs's own encoding or the batches are compressed.
 */
export function encodeProduce(args: ProduceArgs): Buffer | undefined {
  if ((args.compression ?? NO_COMPRESSION) !== NO_COMPRESSION) return undefined;
  const { Long, crc32c } = kafkajsParts();
  const transactionalId = args.transactionalId ?? null;
  const batch = {
    attributes: transactionalId ? TRANSACTIONAL : 0,
    producerId: Long.fromValue(args.producerId === undefined ? Long.fromInt(-1) : args.producerId),
    producerEpoch: args.producerEpoch ?? 0,
  };
  // Sized for a record's key, value, a header of ~60 bytes and its varints: grown (copied) only for
  // more headers or non-ASCII text, and a request of ~1,300 deliveries no longer grows to twice its size.
  let estimate = 64;
  for (const { partitions } of args.topicData)
    for (const { messages } of partitions)
      for (const m of messages) estimate += RECORD_EXTRA + lengthOf(m.value) + lengthOf(m.key);
  const out = new Output(estimate);
  // The transactional id, then acks, timeout and the topic count.
  let at = writeString(out.room(0, 2 + 3 * (transactionalId?.length ?? 0) + 10), 0, transactionalId);
  at = out.buf.writeInt16BE(args.acks, at);
  at = out.buf.writeInt32BE(args.timeout, at);
  at = out.buf.writeInt32BE(args.topicData.length, at);
  for (const { topic, partitions } of args.topicData) {
    at = writeString(out.room(at, 2 + 3 * topic.length + 4), at, topic);
    at = out.buf.writeInt32BE(partitions.length, at);
    for (const p of partitions) {
      at = writePartition(out, at, Long, crc32c, batch, p);
      if (at < 0) return undefined;
    }
  }
  return out.buf.subarray(0, at);
}

function writeString(buf: Buffer, at: number, value: string | null): number {
  if (value === null) return buf.writeInt16BE(-1, at);
  const length = buf.write(value, at + 2, 'utf8');
  buf.writeInt16BE(length, at);
  return at + 2 + length;
}

function writeLong(buf: Buffer, at: number, value: Long): number {
  buf.writeInt32BE(value.getHighBits(), at);
  return buf.writeInt32BE(value.getLowBits(), at + 4);
}

/** kafkajs's v3 produce request (`original`) encoding with encodeProduce where it can. */
export function leanProduceRequest(original: ProduceRequestModule): ProduceRequestModule {
  return (args) => {
    const request = original(args);
    return {
      ...request,
      encode: async () => {
        const bytes = encodeProduce(args);
        if (!bytes) return request.encode();
        const encoder = new (kafkajsParts().Encoder)();
        encoder.writeBufferInternal(bytes);
        return encoder;
      },
    };
  };
}

function install(): boolean {
  if (require.cache[PRODUCE_REQUEST_MODULE]) return false;
  // kafkajs's own is loaded at the first request, not now: it loads kafkajs's Encoder and record batch,
  // which lean-encoder.ts and crc32c.ts replace first whatever order modules are evaluated in.
  let lean: ProduceRequestModule | undefined;
  replaceModule(PRODUCE_REQUEST_MODULE, (args: ProduceArgs) => {
    lean ??= leanProduceRequest(kafkajsProduceRequest());
    return lean(args);
  });
  return true;
}

/** kafkajs's own v3 produce request module, loaded beside the one the require cache holds. */
export const kafkajsProduceRequest = (): ProduceRequestModule =>
  loadOwn(PRODUCE_REQUEST_MODULE) as ProduceRequestModule;

/** Whether kafkajs's produce requests are written by encodeProduce (false: kafkajs had loaded its own first). */
export const leanProduceInstalled = install();
