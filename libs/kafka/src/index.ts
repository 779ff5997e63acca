export { KafkaAccessDenied, accessDenied } from './access.js';
export * from './client.js';
export * from './acls.js';
export * from './compacted.js';
export { nativeCrc32c } from './crc32c.js';
export * from './dlq.js';
export * from './security.js';
export * from './stage.js';
export { sendsPerPartition } from './send-per-partition.js';
