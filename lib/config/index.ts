export * from './push-stream.config.js';
