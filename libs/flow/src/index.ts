export * from './rules.js';
export * from './windows.js';
export * from './capture-events.js';
export * from './offline.js';
