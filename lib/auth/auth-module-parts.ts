import type { Provider, Type } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { PushStreamChannels } from '../channels/push-stream-channels.js';
import { PushStreamConfigError } from '../errors/push-stream.exception.js';
import type { ResolvedPushStreamOptions } from '../options/push-stream-options.interface.js';
import { PUSH_STREAM_RESOLVED_OPTIONS } from '../push-stream.constants.js';
import { DEFAULT_AUTH_ROUTE, PUSH_STREAM_CHANNEL_RULES } from './auth.constants.js';
import { createBuiltInRules } from './built-in-rules.js';
import { ChannelAuthGuard } from './channel-auth.guard.js';
import { ChannelAuthorizer } from './channel-authorizer.js';
import { ChannelRuleRegistry } from './channel-rule-registry.js';
import type { ChannelRule } from './channel-rule.interface.js';
import { createPushStreamAuthController, PushStreamAuthController } from './push-stream-auth.controller.js';
import { PushStreamTickets } from '../tickets/push-stream-tickets.service.js';

/**
 * The controllers and providers the auth feature adds to PushStreamModule.
 * `route` false registers no controller (the guard and rules are still provided).
 */
export function authModuleParts(route: string | false): {
  controllers: Type<unknown>[];
  providers: Provider[];
  exports: Array<Provider | string | symbol>;
} {
  if (route !== false && (typeof route !== 'string' || route.replace(/\//g, '') === '')) {
    throw new PushStreamConfigError('authRoute', 'must be a route such as "push-stream/auth", or false');
  }
  const controllers =
    route === false ? [] : [route === DEFAULT_AUTH_ROUTE ? PushStreamAuthController : createPushStreamAuthController(route)];
  const providers: Provider[] = [
    {
      provide: PUSH_STREAM_CHANNEL_RULES,
      inject: [PushStreamChannels, PUSH_STREAM_RESOLVED_OPTIONS],
      useFactory: (channels: PushStreamChannels, options: ResolvedPushStreamOptions): ChannelRule[] => [
        ...createBuiltInRules(channels, { pageChannels: options.auth.pageChannels }),
        ...options.auth.rules,
      ],
    },
    // What DiscoveryModule provides, without needing an import in PushStreamModule.
    DiscoveryService,
    ChannelRuleRegistry,
    ChannelAuthorizer,
    ChannelAuthGuard,
    // Signs with the same rules the endpoint applies.
    PushStreamTickets,
  ];
  return {
    controllers,
    providers,
    exports: [PUSH_STREAM_CHANNEL_RULES, ChannelRuleRegistry, ChannelAuthorizer, ChannelAuthGuard, PushStreamTickets],
  };
}
