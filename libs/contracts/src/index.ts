export * from './rule.js';
export * from './fields.js';
export * from './record.js';
export * from './format.js';
export * from './log-topic.js';
export * from './topics.js';
export * from './packet-batch.js';
export * from './binding.js';
