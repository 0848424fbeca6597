export * from './http-client.interface.js';
export * from './undici-http-client.js';
