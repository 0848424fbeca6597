import { Inject, Injectable, type OnModuleInit, Optional } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { CHANNEL_KIND_PATTERN } from '../channels/channel-name.js';
import { PushStreamConfigError } from '../errors/push-stream.exception.js';
import { PUSH_STREAM_CHANNEL_RULES } from './auth.constants.js';
import { PUSH_STREAM_CHANNEL_RULE_KEY } from './channel-rule.decorator.js';
import type { ChannelRule } from './channel-rule.interface.js';

function assertRule(value: unknown, source: string): asserts value is ChannelRule {
  const rule = value as Partial<ChannelRule> | null;
  if (!rule || typeof rule.kind !== 'string' || typeof rule.canSubscribe !== 'function') {
    throw new PushStreamConfigError(source, 'a channel rule needs a string `kind` and a `canSubscribe(context)` method');
  }
  if (!CHANNEL_KIND_PATTERN.test(rule.kind)) {
    throw new PushStreamConfigError(source, `kind ${JSON.stringify(rule.kind)} must be lower-case letters, digits and "-"`);
  }
}

/**
 * One rule per channel kind: the PUSH_STREAM_CHANNEL_RULES list plus every provider marked
 * `@PushStreamChannelRule()`. A kind with no rule is refused; a kind with two is a start-up error,
 * since silently picking one could open a channel.
 */
@Injectable()
export class ChannelRuleRegistry implements OnModuleInit {
  private readonly rules = new Map<string, ChannelRule>();

  constructor(
    @Inject(PUSH_STREAM_CHANNEL_RULES) rules: readonly ChannelRule[],
    @Optional() private readonly discovery?: DiscoveryService,
  ) {
    rules.forEach((rule, i) => this.add(rule, `auth.rules[${i}]`));
  }

  /** Adds the decorated providers; they all exist once module init starts. */
  onModuleInit(): void {
    if (!this.discovery) return;
    const seen = new Set<unknown>();
    for (const wrapper of this.discovery.getProviders({ metadataKey: PUSH_STREAM_CHANNEL_RULE_KEY })) {
      const source = `@PushStreamChannelRule() ${wrapper.name}`;
      if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
        throw new PushStreamConfigError(source, 'channel rules must be singletons (no request or transient scope)');
      }
      // The same class declared in two modules is one rule.
      if (seen.has(wrapper.metatype)) continue;
      seen.add(wrapper.metatype);
      this.add(wrapper.instance, source);
    }
  }

  get(kind: string): ChannelRule | undefined {
    return this.rules.get(kind);
  }

  kinds(): string[] {
    return [...this.rules.keys()];
  }

  private add(rule: unknown, source: string): void {
    assertRule(rule, source);
    if (this.rules.has(rule.kind)) {
      throw new PushStreamConfigError(source, `a rule for kind "${rule.kind}" is already registered`);
    }
    this.rules.set(rule.kind, rule);
  }
}
