export * from './push-stream.service.js';
export * from './retry.js';
