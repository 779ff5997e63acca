/**
 * kafkajs's default partitioner hashes each message's key with Java's murmur2, computed in 64-bit
 * Long objects (six multiplications and as many Longs a 4-byte word): 12 % of the publisher's CPU
 * sending its records, each keyed by its flow. This module gives kafkajs the same hash in 32-bit
 * integer arithmetic (Math.imul), the same value for every key (tested against kafkajs's), so every
 * message still goes to the partition it went to. Like crc32c.ts it is put in the require cache
 * under kafkajs's own module, which must not be loaded yet: client.ts imports it before kafkajs.
 */
import { kafkajsRequire as require, replaceModule } from './module-cache.js';

const MURMUR2_MODULE = require.resolve('kafkajs/src/producer/partitioners/default/murmur2.js');

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
/** Keys are written here to be hashed (no buffer a key); a longer one gets its own. */
const scratch = Buffer.allocUnsafe(4096);

/** Java's (Kafka's) murmur2 of the key's bytes (a string as UTF-8), as a signed 32-bit integer. */
export function murmur2(key: Buffer | string | number): number {
  let data: Buffer;
  let length: number;
  if (Buffer.isBuffer(key)) {
    data = key;
    length = key.length;
  } else {
    const text = String(key);
    length = scratch.write(text);
    // A string longer than the scratch may have been cut at a character's boundary.
    if (length > scratch.length - 4) {
      data = Buffer.from(text);
      length = data.length;
    } else data = scratch;
  }
  let h = (SEED ^ length) | 0;
  const words = length >>> 2;
  for (let i = 0; i < words; i++) {
    const at = i * 4;
    let k = data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The last one to three bytes.
  const tail = length & ~3;
  const rest = length & 3;
  if (rest) {
    if (rest === 3) h ^= data[tail + 2] << 16;
    if (rest >= 2) h ^= data[tail + 1] << 8;
    h ^= data[tail];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

function install(): boolean {
  if (require.cache[MURMUR2_MODULE]) return false;
  replaceModule(MURMUR2_MODULE, murmur2);
  return true;
}

/** Whether kafkajs's default partitioner hashes with this murmur2 (false: kafkajs was loaded before @flowlogs/kafka). */
export const fastMurmur2 = install();
