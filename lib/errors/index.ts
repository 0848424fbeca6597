export * from './push-stream.exception.js';
