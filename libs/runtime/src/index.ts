export * from './logger.js';
export * from './config.js';
export * from './metrics.js';
export * from './health.js';
export * from './lifecycle.js';
export * from './node-flags.js';
