/** kafkajs checksums record batches with the native CRC-32C once @flowlogs/kafka is loaded; the values are kafkajs's own. */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { nativeCrc32c } from '../src/index.js';

const require = createRequire(import.meta.url);

describe('record batch checksums', () => {
  it("come from the native CRC-32C, equal to kafkajs's JavaScript one for every length", () => {
    expect(nativeCrc32c).toBe(true);
    const used = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
    const javascript = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
    expect(used.toString()).not.toContain('unsigned'); // kafkajs's module: buffer => unsigned(crc32C(buffer))
    expect(used(Buffer.from('123456789'))).toBe(0xe3069283); // the CRC-32C check value
    for (const size of [0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4096, 100_000, 786_432]) {
      const bytes = randomBytes(size);
      expect(used(bytes), `${size} bytes`).toBe(javascript(bytes));
      // A view into a larger buffer, as kafkajs's encoder hands over.
      const view = Buffer.concat([randomBytes(5), bytes, randomBytes(3)]).subarray(5, 5 + size);
      expect(used(view), `${size} bytes at an offset`).toBe(javascript(bytes));
    }
  });
});
