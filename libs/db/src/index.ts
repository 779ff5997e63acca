export * from './pool.js';
export * from './migrate.js';
export * from './partitions.js';
export * from './rollup.js';
export * from './locks.js';
