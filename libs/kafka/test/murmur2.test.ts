/**
 * The partitioner's murmur2 (murmur2.ts) is kafkajs's own, value for value: Kafka's reference hashes,
 * and kafkajs's Long-based module on keys of every tail length, strings (UTF-8) and bytes alike.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { fastMurmur2 } from '../src/index.js';
import { murmur2 } from '../src/murmur2.js';

const require = createRequire(import.meta.url);
const MODULE = require.resolve('kafkajs/src/producer/partitioners/default/murmur2.js');

/** kafkajs's own murmur2, loaded beside the one that the require cache holds. */
function kafkajsMurmur2(): (key: Buffer | string) => number {
  const installed = require.cache[MODULE];
  delete require.cache[MODULE];
  try {
    return require(MODULE);
  } finally {
    require.cache[MODULE] = installed;
  }
}

describe('murmur2', () => {
  it("is kafkajs's partitioner's hash once @flowlogs/kafka is loaded", () => {
    expect(fastMurmur2).toBe(true);
    expect(require(MODULE)).toBe(murmur2);
  });

  it("gives Kafka's reference values", () => {
    // Kafka's UtilsTest.testMurmur2.
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(Buffer.from('abc'))).toBe(479470107);
  });

  it("equals kafkajs's for strings and bytes of every length", () => {
    const theirs = kafkajsMurmur2();
    expect(theirs).not.toBe(murmur2);
    const keys: (Buffer | string)[] = [
      '',
      'été ✓ 🚀',
      'eni-0a1b2c 10.0.0.1 192.168.1.20 443 51234 6',
      'x'.repeat(5000),
    ];
    for (let n = 0; n < 70; n++) {
      keys.push(randomBytes(n));
      keys.push(randomBytes(n).toString('base64').slice(0, n));
    }
    keys.push(randomBytes(10_000), `${'é'.repeat(2046)}ab`, `${'é'.repeat(2047)}a`);
    for (const key of keys) expect(murmur2(key), String(key).slice(0, 40)).toBe(theirs(key));
  });
});
