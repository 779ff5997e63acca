/**
 * kafkajs encodes a produce request in about ten nested Encoders (record, batch body, batch,
 * partition, topic, request, frame), each a zero-filled buffer of the next power of two that the
 * inner one is copied into: a 115 kB packet batch was zero-filled and copied ~10 times on its way
 * to the socket, which with the garbage it leaves was most of the capture agent's send cost. This
 * module gives kafkajs an Encoder that writes the same bytes with fewer copies: a buffer of 1 kB or
 * more (a message's value, an inner encoder) is kept by reference as a part, and the parts are
 * joined once, when the bytes are read (`buffer`: the batch's CRC, then the request as it goes on
 * the socket); buffers are not zero-filled (only written bytes are ever read). It is installed in
 * the require cache under kafkajs's own encoder module, so it must be evaluated before kafkajs is
 * (client.ts imports it first, like crc32c.ts). A kept part must not change until the request is
 * written: kafkajs encodes a send's messages when it sends them, and callers await the send.
 */
import { kafkajsRequire as require, replaceModule } from './module-cache.js';

const ENCODER_MODULE = require.resolve('kafkajs/src/protocol/encoder.js');
const RECORD_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');

/** Buffers from this size on are kept by reference rather than copied. */
export const BY_REFERENCE_BYTES = 1024;

/** The part of kafkajs's Encoder that the lean one relies on. */
interface KafkaEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  size(): number;
  writeBufferInternal(buffer: Buffer): void;
  ensureAvailable(length: number): void;
  writeEncoder(value: KafkaEncoder): KafkaEncoder;
  writeEncoderArray(value: KafkaEncoder[]): KafkaEncoder;
}
type EncoderClass = (new (initialSize?: number) => KafkaEncoder) & { nextPowerOfTwo(value: number): number };

/** A subclass of kafkajs's Encoder (given, so that tests can compare the two). */
export function leanEncoder(Base: EncoderClass): EncoderClass {
  return class LeanEncoder extends Base {
    /** Bytes before `buf[start]`, in order: earlier stretches of `buf`, and buffers kept by reference. */
    private parts: Buffer[] | undefined;
    private partsBytes = 0;
    /** Where `buf`'s bytes not yet in `parts` begin. */
    private start = 0;

    constructor(initialSize = 511) {
      super(0);
      this.buf = Buffer.allocUnsafe(Base.nextPowerOfTwo(initialSize));
    }

    override get buffer(): Buffer {
      if (!this.parts) return this.buf.subarray(0, this.offset);
      // Joined once; the result is the encoder's buffer from now on (read again: no copy).
      const joined = Buffer.concat([...this.parts, this.buf.subarray(this.start, this.offset)]);
      this.parts = undefined;
      this.partsBytes = 0;
      this.buf = joined;
      this.start = 0;
      this.offset = joined.length;
      return joined;
    }

    override size(): number {
      return this.partsBytes + this.offset - this.start;
    }

    override ensureAvailable(length: number): void {
      if (this.offset + length <= this.buf.length) return;
      const live = this.offset - this.start;
      const grown = Buffer.allocUnsafe(Base.nextPowerOfTwo(live + length));
      this.buf.copy(grown, 0, this.start, this.offset);
      this.buf = grown;
      this.start = 0;
      this.offset = live;
    }

    override writeBufferInternal(buffer: Buffer): void {
      if (buffer.length < BY_REFERENCE_BYTES) {
        this.ensureAvailable(buffer.length);
        buffer.copy(this.buf, this.offset, 0);
        this.offset += buffer.length;
        return;
      }
      this.keep(buffer);
    }

    override writeEncoder(value: KafkaEncoder): KafkaEncoder {
      if (!(value instanceof LeanEncoder)) return super.writeEncoder(value);
      if (value.size() < BY_REFERENCE_BYTES) {
        this.writeBufferInternal(value.buffer);
        return this;
      }
      // An inner encoder's parts are kept as they are, not joined.
      for (const part of value.parts ?? []) this.keep(part);
      this.keep(value.buf.subarray(value.start, value.offset));
      return this;
    }

    override writeEncoderArray(value: KafkaEncoder[]): KafkaEncoder {
      for (const v of value) this.writeEncoder(v);
      return this;
    }

    /** `buffer` after the bytes so far, by reference (later writes go after it). */
    private keep(buffer: Buffer): void {
      if (!buffer.length) return;
      this.parts ??= [];
      if (this.offset > this.start) {
        this.parts.push(this.buf.subarray(this.start, this.offset));
        this.partsBytes += this.offset - this.start;
        this.start = this.offset;
      }
      this.parts.push(buffer);
      this.partsBytes += buffer.length;
    }
  };
}

/** A record as kafkajs's produce request hands it to its Record module. */
export interface RecordFields {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
}
type RecordModule = (record: RecordFields) => KafkaEncoder;

/** Deltas up to this size are zigzag varints in 32-bit arithmetic (kafkajs takes a Long for each). */
const SMALL = 2 ** 30;

const zigzagSize = (v: number): number => {
  let z = ((v << 1) ^ (v >> 31)) >>> 0;
  let n = 1;
  while (z >= 0x80) {
    z >>>= 7;
    n++;
  }
  return n;
};
function writeZigzag(buf: Buffer, at: number, v: number): number {
  let z = ((v << 1) ^ (v >> 31)) >>> 0;
  while (z >= 0x80) {
    buf[at++] = (z & 0x7f) | 0x80;
    z >>>= 7;
  }
  buf[at++] = z;
  return at;
}

/** A key, value or header value kafkajs writes as bytes (a string as UTF-8); null for none. */
const isPart = (v: unknown): v is Buffer | string | null | undefined =>
  v == null || typeof v === 'string' || Buffer.isBuffer(v);
/** A header value kafkajs writes as bytes: its own Record fails an empty or absent one otherwise. */
const isHeaderValue = (v: unknown): v is Buffer | string => !!v && (typeof v === 'string' || Buffer.isBuffer(v));
/** At most how many bytes writePart takes for `v`: a string's UTF-8 is at most three bytes a UTF-16 unit. */
const partRoom = (v: Buffer | string | null | undefined): number =>
  v == null ? 1 : 5 + (typeof v === 'string' ? 3 * v.length : v.length);

/**
 * Writes `v` with its zigzag length (-1 for none) at `at`, where there is partRoom(v); answers where
 * it ends. A string is written where its length would end were it ASCII, and moved in the rare case
 * its UTF-8 takes another size of length: it is measured once, by writing it.
 */
function writePart(buf: Buffer, at: number, v: Buffer | string | null | undefined): number {
  if (v == null) return writeZigzag(buf, at, -1);
  if (typeof v !== 'string') {
    at = writeZigzag(buf, at, v.length);
    v.copy(buf, at);
    return at + v.length;
  }
  const guess = zigzagSize(v.length);
  const length = buf.write(v, at + guess, 'utf8');
  const size = zigzagSize(length);
  if (size !== guess) buf.copyWithin(at + size, at + guess, at + guess + length);
  writeZigzag(buf, at, length);
  return at + size + length;
}

/** The header values of `name` (kafkajs takes an array as several headers of one name). */
const valuesOf = (h: unknown): unknown[] => (Array.isArray(h) ? h : [h]);

/**
 * Whether writeRecord writes the record as kafkajs's Record would; otherwise (a delta beyond 2^30,
 * a key or value neither a string nor a Buffer, an empty or absent header value) kafkajs's own must.
 */
export function leanWritable({ key, value, headers, offsetDelta = 0, timestampDelta = 0 }: RecordFields): boolean {
  if (!isPart(key) || !isPart(value)) return false;
  if (!Number.isInteger(timestampDelta) || Math.abs(timestampDelta) >= SMALL) return false;
  if (!Number.isInteger(offsetDelta) || Math.abs(offsetDelta) >= SMALL) return false;
  for (const name of Object.keys(headers ?? {}))
    for (const v of valuesOf(headers![name])) if (!isHeaderValue(v)) return false;
  return true;
}

/** At most how many bytes writeRecord takes for the record (leanWritable). */
export function recordRoom({ key, value, headers }: RecordFields): number {
  let room = 5 + 1 + 5 + 5 + partRoom(key as string) + partRoom(value as string) + 5;
  for (const name of Object.keys(headers ?? {}))
    for (const v of valuesOf(headers![name])) room += partRoom(name) + partRoom(v as string);
  return room;
}

/** Room kept for a record's length before its body is written: a body below 2^20 bytes needs no more. */
const LENGTH_ROOM = 3;

/**
 * Writes a leanWritable record at `at`, where there is recordRoom(record), as kafkajs's Record writes
 * it; answers where it ends. The body is written first, after room for its length, and moved up
 * to the length's actual size.
 */
export function writeRecord(buf: Buffer, at: number, record: RecordFields): number {
  const { key, value, headers, offsetDelta = 0, timestampDelta = 0 } = record;
  const bodyAt = at + LENGTH_ROOM;
  let end = bodyAt;
  buf[end++] = 0; // attributes: none used
  end = writeZigzag(buf, end, timestampDelta);
  end = writeZigzag(buf, end, offsetDelta);
  end = writePart(buf, end, key as string);
  end = writePart(buf, end, value as string);
  let count = 0;
  const names = Object.keys(headers ?? {});
  for (const name of names) count += valuesOf(headers![name]).length;
  end = writeZigzag(buf, end, count);
  for (const name of names)
    for (const v of valuesOf(headers![name])) end = writePart(buf, writePart(buf, end, name), v as string);
  const body = end - bodyAt;
  const size = zigzagSize(body);
  if (size !== LENGTH_ROOM) buf.copyWithin(at + size, bodyAt, end);
  writeZigzag(buf, at, body);
  return at + size + body;
}

/**
 * kafkajs's Record (one record of a batch) written the same, byte for byte, in one buffer: kafkajs
 * makes an Encoder per record and per header, and a Long for each delta (the publisher's ~600 B
 * records, thousands a batch: the Long arithmetic alone was ~5 % of its send CPU). A record it would
 * encode otherwise (see leanWritable) goes to `original`, kafkajs's own. Produce requests without
 * compression do not come here: lean-produce.ts writes them whole.
 */
export function leanRecord(Encoder: EncoderClass, original: RecordModule): RecordModule {
  return (record) => {
    if (!leanWritable(record)) return original(record);
    const room = recordRoom(record);
    const encoder = new Encoder(room);
    encoder.ensureAvailable(room);
    encoder.offset = writeRecord(encoder.buf, encoder.offset, record);
    return encoder;
  };
}

function install(): boolean {
  if (require.cache[ENCODER_MODULE] || require.cache[RECORD_MODULE]) return false;
  const Base = require(ENCODER_MODULE) as EncoderClass;
  const Lean = leanEncoder(Base);
  replaceModule(ENCODER_MODULE, Lean);
  // kafkajs's own Record, loaded now, encodes with the lean Encoder too.
  replaceModule(RECORD_MODULE, leanRecord(Lean, require(RECORD_MODULE) as RecordModule));
  return true;
}

/** Whether kafkajs encodes with the lean Encoder and Record (false: kafkajs was loaded before @flowlogs/kafka). */
export const leanEncoderInstalled = install();
