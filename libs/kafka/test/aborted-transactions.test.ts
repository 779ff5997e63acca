/** kafkajs's read_committed consumers drop every aborted transaction's messages once @flowlogs/kafka is loaded, whatever order Kafka lists the aborts in. */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import '../src/index.js';
import { withoutAborted, type FetchedMessage } from '../src/aborted-transactions.js';

const require = createRequire(import.meta.url);
const ABORT = Buffer.from([0, 0, 0, 0]);
const COMMIT = Buffer.from([0, 0, 0, 1]);

/** A message at `offset` of `producer`: in a transaction unless `plain`, a control record when `marker` is given. */
const at = (
  offset: number,
  producer: string,
  { marker, plain = false }: { marker?: Buffer; plain?: boolean } = {},
) => ({
  offset: String(offset),
  key: marker ?? Buffer.from(`k${offset}`),
  isControlRecord: marker !== undefined,
  batchContext: { producerId: producer, inTransaction: !plain, isControlBatch: marker !== undefined },
});

// Two killed publishers' transactions (producers 7 and 8) interleaved with a committed one (9) and a
// plain message: 8 began first but was aborted second, so Kafka lists 7 first.
const log = [
  at(10, '8'),
  at(11, '9'),
  at(12, '7'),
  at(13, '8'),
  at(14, '5', { plain: true }),
  at(15, '7'),
  at(16, '9', { marker: COMMIT }),
  at(17, '7', { marker: ABORT }),
  at(18, '8', { marker: ABORT }),
  at(19, '8'), // 8's next transaction, committed later
];
const aborted = [
  { producerId: '7', firstOffset: '12' },
  { producerId: '8', firstOffset: '10' },
];
const offsets = (ms: FetchedMessage[]) => ms.map((m) => Number(m.offset));

describe('aborted transactions', () => {
  it("drop every aborted transaction's messages up to its marker, listed in any order", () => {
    expect(offsets(withoutAborted(log, aborted))).toEqual([11, 14, 16, 17, 18, 19]);
    expect(offsets(withoutAborted(log, [...aborted].reverse()))).toEqual([11, 14, 16, 17, 18, 19]);
    // From the middle of a transaction (a fetch starting past its first offset).
    expect(offsets(withoutAborted(log.slice(3), aborted))).toEqual([14, 16, 17, 18, 19]);
    expect(withoutAborted(log, [])).toBe(log);
  });

  it("are what kafkajs's fetched batches leave out (its own filter let 8's first message through)", () => {
    const Batch = require('kafkajs/src/consumer/batch.js');
    const batch = new Batch('t', '10', {
      partition: 0,
      highWatermark: '20',
      messages: log,
      abortedTransactions: aborted,
    });
    expect(offsets(batch.messages)).toEqual([11, 14, 19]);
  });
});
