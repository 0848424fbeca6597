export * from './channel-name.js';
export * from './push-stream-channels.js';
