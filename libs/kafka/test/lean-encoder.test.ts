/**
 * kafkajs encodes with the lean Encoder and Record once @flowlogs/kafka is loaded: the same bytes as
 * its own Encoder for the nesting a produce request has, and as its own Record for every kind of
 * record; large values survive the real broker.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { kafkaBrokers, testLogger, uniquePrefix } from '@flowlogs/testkit';
import { createKafka, leanEncoderInstalled, reliableProducer } from '../src/index.js';
import { BY_REFERENCE_BYTES, leanRecord } from '../src/lean-encoder.js';
import { loadOwn } from '../src/module-cache.js';

const require = createRequire(import.meta.url);

/** kafkajs's Encoder has no types. */
type Encoder = any;

/** A produce request's nesting (record, batch body, batch, partition, topic, request, frame), as kafkajs builds it. */
function produceLike(E: new () => Encoder, values: Buffer[]): { bytes: Buffer; size: number } {
  const records = values.map((value, i) =>
    new E()
      .writeVarInt(value.length + 9)
      .writeInt8(0)
      .writeVarLong(0)
      .writeVarInt(i)
      .writeVarIntBytes(Buffer.from(`key-${i}`))
      .writeVarIntBytes(value)
      .writeVarIntArray([new E().writeVarIntString('flowlogs-signature').writeVarIntBytes(Buffer.from('ab'))]),
  );
  const body = new E()
    .writeInt16(0)
    .writeInt32(values.length - 1)
    .writeArray(records);
  const checksum = body.buffer.reduce((a: number, b: number) => (a * 31 + b) >>> 0, 7);
  const batch = new E().writeInt32(0).writeInt8(2).writeUInt32(checksum).writeEncoder(body);
  const withOffset = new E().writeInt64(0).writeBytes(batch.buffer);
  const partitions = [0, 1].map((p) => new E().writeInt32(p).writeInt32(withOffset.size()).writeEncoder(withOffset));
  const topic = new E().writeString('packets').writeArray(partitions);
  const request = new E().writeInt16(-1).writeInt16(-1).writeInt32(30_000).writeArray([topic]);
  const payload = new E().writeInt16(0).writeInt16(3).writeInt32(42).writeString('client').writeEncoder(request);
  const frame = new E().writeInt32(payload.size()).writeEncoder(payload);
  return { size: frame.size(), bytes: Buffer.from(frame.buffer) };
}

describe('the lean Encoder', () => {
  const Lean = require('kafkajs/src/protocol/encoder.js') as new () => Encoder;
  const Original = Object.getPrototypeOf(Lean) as new () => Encoder;

  it("is kafkajs's Encoder once @flowlogs/kafka is loaded, and writes its bytes for a produce request", () => {
    expect(leanEncoderInstalled).toBe(true);
    expect(Original.name).toBe('Encoder');
    const sizes = [0, 1, 100, BY_REFERENCE_BYTES - 1, BY_REFERENCE_BYTES, BY_REFERENCE_BYTES + 1, 115_000, 300_000];
    for (const set of [sizes, [115_000, 115_000, 115_000], [5, 70_000, 3, 2_000_000], [BY_REFERENCE_BYTES]]) {
      const values = set.map((n) => randomBytes(n));
      const lean = produceLike(Lean, values);
      const original = produceLike(Original, values);
      expect(lean.size, `sizes ${set}`).toBe(original.size);
      expect(lean.bytes.equals(original.bytes), `sizes ${set}`).toBe(true);
    }
  });

  it('keeps the bytes written before an encoder was nested, whatever is written to it later', () => {
    const inner = new Lean().writeInt32(1).writeBytes(randomBytes(5000));
    const before = Buffer.from(inner.buffer);
    const outer = new Lean().writeInt8(9).writeEncoder(inner);
    inner.writeBytes(randomBytes(100_000)).writeInt32(2);
    expect(outer.buffer.equals(Buffer.concat([Buffer.from([9]), before]))).toBe(true);
  });

  it('sends large messages through the broker unchanged', async () => {
    const kafka = createKafka(kafkaBrokers(), 'lean-encoder-test', testLogger());
    const topic = `${uniquePrefix()}.lean`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = reliableProducer(kafka);
    await producer.connect();
    const sent = [200_000, 10, 2_000, 150_000].map((n, i) => ({
      key: `k${i}`,
      value: randomBytes(n),
      headers: { sig: `s${i}` },
    }));
    await producer.send({ topic, acks: -1, messages: sent });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `${topic}.reader` });
    const seen: { key: string; value: Buffer; sig: string }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push({ key: message.key!.toString(), value: message.value!, sig: String(message.headers!.sig) });
      },
    });
    const deadline = Date.now() + 30_000;
    while (seen.length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await consumer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
    expect(seen.map((m) => m.key)).toEqual(sent.map((m) => m.key));
    expect(seen.map((m) => m.sig)).toEqual(sent.map((m) => m.headers.sig));
    for (let i = 0; i < sent.length; i++) expect(seen[i].value.equals(sent[i].value), sent[i].key).toBe(true);
  });
});

describe('the lean Record', () => {
  const RECORD = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');
  const Lean = require('kafkajs/src/protocol/encoder.js') as new () => Encoder;
  type Record = (r: object) => Encoder;

  /** kafkajs's own Record module, loaded beside the lean one that the require cache holds. */
  const kafkajsRecord = () => loadOwn(RECORD) as Record;

  it("is kafkajs's Record once @flowlogs/kafka is loaded, and writes its bytes for every kind of record", () => {
    const original = kafkajsRecord();
    expect(require(RECORD)).not.toBe(original);
    const fallbacks: object[] = [];
    const lean = leanRecord(Lean as never, (r) => {
      fallbacks.push(r);
      return original(r);
    }) as Record;
    const records = [
      { key: 'eni-1 10.0.0.1 10.0.0.2 443 51000 6', value: '{"a":1}', headers: { 'flowlogs-record-id': 'r1' } },
      { key: Buffer.from([0, 1, 255]), value: randomBytes(600), offsetDelta: 4999, timestampDelta: 7 },
      { key: null, value: 'été ✓ 🚀', timestampDelta: -3 },
      { value: randomBytes(200_000), offsetDelta: 1, headers: { a: ['x', 'yy'], b: Buffer.from('zz') } },
      { key: 'k', value: null, headers: {} },
      { key: 'k', value: 'v', offsetDelta: 2 ** 29, timestampDelta: 2 ** 30 - 1 },
    ];
    for (const r of records) expect(Buffer.from(lean(r).buffer).equals(Buffer.from(original(r).buffer))).toBe(true);
    expect(fallbacks).toEqual([]);
    // What it leaves to kafkajs's own: a delta beyond 2^30, an empty header value, a number as key (refused).
    const others = [
      { key: 'k', value: 'v', timestampDelta: 2 ** 33 },
      { key: 'k', value: 'v', headers: { a: '' } },
    ];
    for (const r of others) expect(Buffer.from(lean(r).buffer).equals(Buffer.from(original(r).buffer))).toBe(true);
    expect(() => lean({ key: 12, value: 'v' })).toThrow(TypeError);
    expect(() => original({ key: 12, value: 'v' })).toThrow(TypeError);
    others.push({ key: 12, value: 'v' } as never);
    expect(fallbacks).toEqual(others);
  });
});
