/**
 * kafkajs checksums every record batch it produces (CRC-32C) with a JavaScript loop over the bytes:
 * 9–13 % of the capture agent's CPU at 0.7–0.9 M packets/s. This module gives kafkajs the same
 * checksum from @node-rs/crc32 (the CPU's CRC-32C instructions) by putting it in the require cache
 * under kafkajs's own checksum module, which kafkajs then loads instead. It must be evaluated before
 * kafkajs is: client.ts imports it first, and nothing else imports kafkajs values. Should kafkajs be
 * loaded already, nothing changes (`nativeCrc32c` says so): the checksum is the same either way.
 */
import { kafkajsRequire as require, replaceModule } from './module-cache.js';

const CHECKSUM_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
const RECORD_BATCH_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/v0/index.js');

/** The native checksum; undefined where its binding is missing (a platform without one): kafkajs keeps its own. */
function nativeBinding(): ((input: Buffer) => number) | undefined {
  try {
    return (require('@node-rs/crc32') as typeof import('@node-rs/crc32')).crc32c;
  } catch {
    return undefined;
  }
}

function install(): boolean {
  const crc32c = nativeBinding();
  if (!crc32c || require.cache[RECORD_BATCH_MODULE]) return false;
  // kafkajs's module answers the checksum as an unsigned 32-bit number, as crc32c does.
  replaceModule(CHECKSUM_MODULE, (buffer: Buffer): number => crc32c(buffer));
  return true;
}

/** Whether kafkajs checksums batches with the native CRC-32C (false: kafkajs was loaded first, or no binding). */
export const nativeCrc32c = install();
