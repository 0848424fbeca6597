export { PushStreamTickets } from './push-stream-tickets.service.js';
export type { SubscriptionTicket, TicketOptions } from './subscription-ticket.interface.js';
export {
  deriveTicketKey,
  signTicket,
  ticketChannelPath,
  verifyTicket,
  type TicketFormat,
  type TicketVerdict,
  type VerifyTicketOptions,
} from './subscription-ticket.js';
