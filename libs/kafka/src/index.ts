export * from './client.js';
export { nativeCrc32c } from './crc32c.js';
export * from './dlq.js';
