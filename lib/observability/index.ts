export * from './push-stream-observer.js';
