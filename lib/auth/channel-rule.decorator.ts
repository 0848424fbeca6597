import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';

const discoverableRule = DiscoveryService.createDecorator<void>();

/** Metadata key of `@PushStreamChannelRule()`, for DiscoveryService.getProviders({ metadataKey }). */
export const PUSH_STREAM_CHANNEL_RULE_KEY: string = discoverableRule.KEY;

/**
 * Marks a provider as a ChannelRule for its `kind`; it is found in any module of the application.
 * The class is made injectable, so it can inject a repository for async checks:
 *
 *   @PushStreamChannelRule()
 *   export class RoomRule implements ChannelRule<Request> {
 *     readonly kind = 'room';
 *     constructor(private readonly rooms: RoomsService) {}
 *     canSubscribe({ user, channel }) { return !!user && this.rooms.isMember(channel.value, user.id); }
 *   }
 *
 * List it in its module's `providers`. Rules must be singletons (no request scope).
 */
export function PushStreamChannelRule(): ClassDecorator {
  return (target) => {
    Injectable()(target);
    discoverableRule()(target);
  };
}
