export * from './push-stream-result.interface.js';
export * from './push-stream-dialect.interface.js';
export * from './push-stream.dialect.js';
export * from './nchan.dialect.js';
export * from './create-dialect.js';
