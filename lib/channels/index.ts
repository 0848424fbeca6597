export * from './channel-name.js';
export * from './push-stream-channels.js';
export * from './issued-pages.js';
