export * from './nginx-test-server.js';
