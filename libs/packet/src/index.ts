export * from './decode.js';
export * from './capture.js';
export * from './build.js';
