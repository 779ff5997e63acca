/**
 * How @flowlogs/kafka changes a kafkajs internal (crc32c.ts, send-per-partition.ts,
 * lean-encoder.ts): a module of its own in the require cache under kafkajs's module's path, which
 * kafkajs's other modules then load instead. Imports nothing of kafkajs.
 */
import { createRequire, Module } from 'node:module';

export const kafkajsRequire = createRequire(import.meta.url);

/** `exports` as the module at `path` (resolved) from now on. */
export function replaceModule(path: string, exports: unknown): void {
  const module = new Module(path);
  module.filename = path;
  module.loaded = true;
  module.exports = exports;
  kafkajsRequire.cache[path] = module;
}

/** The module at `path` (resolved) as its own file makes it, loaded beside the one the require cache holds. */
export function loadOwn(path: string): unknown {
  const installed = kafkajsRequire.cache[path];
  delete kafkajsRequire.cache[path];
  try {
    return kafkajsRequire(path);
  } finally {
    if (installed) kafkajsRequire.cache[path] = installed;
  }
}
