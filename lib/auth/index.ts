export * from './channel-rule.interface.js';
