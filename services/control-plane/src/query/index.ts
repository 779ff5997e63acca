export * from './fields.js';
export * from './parse.js';
export * from './predicate.js';
export * from './sql.js';
