export * from './client.js';
export * from './dlq.js';
