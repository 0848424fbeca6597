export * from './push-stream.service.js';
export * from './retry.js';
export * from './subscriber-urls.interface.js';
export * from './revocation.interface.js';
export * from './health.interface.js';
