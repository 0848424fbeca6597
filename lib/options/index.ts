export * from './push-stream-options.interface.js';
export * from './resolve-options.js';
export * from './options-from-env.js';
