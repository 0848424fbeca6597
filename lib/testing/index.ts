// Entry point `nestjs-push-stream/testing`, exported by name: what users' tests need.
// test/unit/public-api.spec.ts lists these names.

// Unit tests of an application's services, without nginx.
export { PushStreamTestingModule, type PushStreamTestingModuleOptions } from './push-stream-testing.module.js';
export { PushStreamRecorder, type RecordedPublish } from './push-stream-recorder.js';
export {
  pushStreamMatchers,
  type PushStreamMatchers,
  type PushStreamMatcherContext,
  type PushStreamMatcherResult,
} from './push-stream-matchers.js';
// Overridable in Test.createTestingModule: the static channel rules (built-in kinds and auth.rules).
export { PUSH_STREAM_CHANNEL_RULES } from '../auth/auth.constants.js';

// Integration tests against a real nginx.
export { NginxTestServer, findFreePort, isListening, type NginxReloadOptions, type NginxTestServerOptions } from './nginx-test-server.js';
export { NGINX_CONFIG_DIR } from '../nginx-config/nginx-config.js';

// The signed-ticket format (PushStreamTickets), to sign and check tickets in tests.
export {
  deriveTicketKey,
  signTicket,
  ticketChannelPath,
  verifyTicket,
  type TicketFormat,
  type TicketVerdict,
  type VerifyTicketOptions,
} from '../tickets/subscription-ticket.js';
