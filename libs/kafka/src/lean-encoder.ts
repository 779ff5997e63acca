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
import { createRequire } from 'node:module';
import { replaceModule } from './module-cache.js';

const require = createRequire(import.meta.url);
const ENCODER_MODULE = require.resolve('kafkajs/src/protocol/encoder.js');

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

function install(): boolean {
  if (require.cache[ENCODER_MODULE]) return false;
  const Base = require(ENCODER_MODULE) as EncoderClass;
  replaceModule(ENCODER_MODULE, leanEncoder(Base));
  return true;
}

/** Whether kafkajs encodes with the lean Encoder (false: kafkajs was loaded before @flowlogs/kafka). */
export const leanEncoderInstalled = install();
