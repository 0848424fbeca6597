export * from './push-stream-tickets.service.js';
export * from './subscription-ticket.interface.js';
export * from './subscription-ticket.js';
