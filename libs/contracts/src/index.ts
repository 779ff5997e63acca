export * from './rule.js';
export * from './record.js';
export * from './format.js';
export * from './topics.js';
export * from './packet-batch.js';
