// Public API of nestjs-push-stream, exported by name: whatever is not listed here is private and
// may change in any version. test/unit/public-api.spec.ts lists the runtime names of every entry
// point, so an addition shows up in review. Other entry points: `nestjs-push-stream/axios` and
// `nestjs-push-stream/config` (so that @nestjs/axios and @nestjs/config stay optional),
// `nestjs-push-stream/testing`, `nestjs-push-stream/browser`, `nestjs-push-stream/auth-listener`
// (subscriptions answered outside Express), `nestjs-push-stream/metrics`, `nestjs-push-stream/terminus`.

// The module and what it provides.
export { PushStreamModule } from './push-stream.module.js';
export type { PushStreamModuleExtras } from './push-stream.module-definition.js';
export type {
  PageChannelPolicy,
  PushStreamAuthOptions,
  PushStreamModuleOptions,
  PushStreamServerKind,
  PushStreamUser,
  RetryPolicy,
  SubscriberEndpoint,
} from './options/push-stream-options.interface.js';
export { pushStreamOptionsFromEnv } from './options/options-from-env.js';

// Publishing.
export { PushStreamService } from './service/push-stream.service.js';
export type { HealthCheck, HealthCheckName, HealthOptions, HealthReport, HealthWorker } from './service/health.interface.js';
export type { RevocationResult } from './service/revocation.interface.js';
export type { SubscriberUrlOptions, SubscriberUrls } from './service/subscriber-urls.interface.js';
export type {
  ChannelInfo,
  JsonValue,
  PublishManyResult,
  PublisherNodeOutcome,
  PublishOptions,
  PublishResult,
  ServerStats,
} from './dialects/push-stream-result.interface.js';

// Channel names.
export { PushStreamChannels } from './channels/push-stream-channels.js';

// Transports and servers: tokens that are also the types (override them in tests).
export { PushStreamHttpClient, type PushStreamHttpRequest, type PushStreamHttpResponse } from './http/http-client.interface.js';
export { UndiciHttpClient, type UndiciHttpClientOptions } from './http/undici-http-client.js';
export { PushStreamDialect, type DialectRequest, type ServerAnswer, type ServerOperation } from './dialects/push-stream-dialect.interface.js';

// Errors.
export {
  ChannelSetTooLargeError,
  InvalidChannelNameError,
  InvalidMessageError,
  MessageTooLargeError,
  PartialNodePublishError,
  PartialPublishError,
  PushStreamConfigError,
  PushStreamConnectionError,
  PushStreamError,
  PushStreamHttpError,
  PushStreamProtocolError,
  PushStreamTimeoutError,
  redactUrl,
  type FailedPublisherNode,
} from './errors/push-stream.exception.js';

// Subscriber authorization.
export { PushStreamChannelRule } from './auth/channel-rule.decorator.js';
export type { ChannelRule, ChannelRuleContext, ParsedChannel } from './auth/channel-rule.interface.js';
export { ChannelAuthGuard } from './auth/channel-auth.guard.js';
export { PushStreamAuthController } from './auth/push-stream-auth.controller.js';
export { PushStreamAuthEndpoint } from './auth/push-stream-auth-endpoint.decorator.js';
export type { SubscriberAuthRequest } from './auth/subscriber-auth-request.js';
export { loadedSessionId } from './auth/request-session.js';

// What the library reports as it works (metrics, tracing): provide one to observe.
export { PushStreamObserver, type AuthorizationEvent, type PublishEvent } from './observability/push-stream-observer.js';

// Signed subscription tickets (opt-in): checked by nginx, no request to the app per subscription.
export { PushStreamTickets } from './tickets/push-stream-tickets.service.js';
export type { SubscriptionTicket, TicketOptions } from './tickets/subscription-ticket.interface.js';
export type { TicketFormat } from './tickets/subscription-ticket.js';
