import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { PushStreamChannels } from '../channels/push-stream-channels.js';
import { PushStreamDialect } from '../dialects/push-stream-dialect.interface.js';
import { PushStreamObserver } from '../observability/push-stream-observer.js';
import type { PushStreamUser, ResolvedPushStreamOptions } from '../options/push-stream-options.interface.js';
import { PUSH_STREAM_RESOLVED_OPTIONS } from '../push-stream.constants.js';
import { CHANNELS_HEADER, ORIGINAL_URI_HEADER } from './auth.constants.js';
import { ChannelRuleRegistry } from './channel-rule-registry.js';
import type { ParsedChannel } from './channel-rule.interface.js';
import { loadedSessionId } from './request-session.js';
import { resolveRequestUser } from './resolve-user.js';
import { describeId, parseSubscriberChannelIds } from './subscriber-channels.js';
import type { SubscriberAuthRequest } from './subscriber-auth-request.js';

/** A session read from its store by someone other than express-session (the auth listener's reader). */
export interface ReadSession {
  id: string;
  data: Record<string, unknown>;
}

export type ChannelAuthDecision =
  | { allowed: true; channels: ParsedChannel[]; user: PushStreamUser | null; sessionId: string | null }
  /**
   * `kind`: of the channel a rule refused; absent when the request was refused as malformed.
   * `retryable`: the request was not judged (its session could not be read): asking later may succeed.
   */
  | { allowed: false; status: 401 | 403; reason: string; kind?: string; retryable?: true };

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Answers one subscription: every channel nginx will subscribe to must pass its kind's rule, or
 * the whole request is refused. Never throws: malformed input and failing rules are refusals.
 */
@Injectable()
export class ChannelAuthorizer {
  private readonly logger = new Logger('PushStreamAuth');

  constructor(
    @Inject(PUSH_STREAM_RESOLVED_OPTIONS) private readonly options: ResolvedPushStreamOptions,
    @Inject(PushStreamDialect) private readonly dialect: PushStreamDialect,
    private readonly channels: PushStreamChannels,
    private readonly registry: ChannelRuleRegistry,
    @Optional() private readonly observer?: PushStreamObserver,
  ) {}

  /** nginx's auth subrequest: the channels are the value nginx puts in the channels header. */
  async authorize(req: SubscriberAuthRequest): Promise<ChannelAuthDecision> {
    return this.authorizeChannelPath(req, req.headers[CHANNELS_HEADER]);
  }

  /**
   * The same decision for a channel path the application names itself (as the server's subscriber
   * URL writes it), with the request's session and user: what a signed ticket may cover.
   */
  async authorizeChannelPath(req: SubscriberAuthRequest, channelPath: unknown): Promise<ChannelAuthDecision> {
    return this.decideAndObserve(req, channelPath);
  }

  /**
   * nginx's auth subrequest without express-session: `readSession` loads the session, and is
   * called only once the channels passed every structural check (no store read for a request
   * refused anyway). The session it returns is the request's `session`/`sessionID` for the rules;
   * a failing read is a refusal marked `retryable` (not judged: the auth listener answers 503).
   */
  async authorizeWithSession(req: SubscriberAuthRequest, readSession: () => Promise<ReadSession | null>): Promise<ChannelAuthDecision> {
    return this.decideAndObserve(req, req.headers[CHANNELS_HEADER], readSession);
  }

  private async decideAndObserve(
    req: SubscriberAuthRequest,
    channelPath: unknown,
    readSession?: () => Promise<ReadSession | null>,
  ): Promise<ChannelAuthDecision> {
    let decision: ChannelAuthDecision;
    try {
      decision = await this.decide(req, channelPath, readSession);
    } catch (err) {
      this.logger.warn(`Refused ${this.uriOf(req)}: unexpected error: ${errorText(err)}`);
      decision = { allowed: false, status: 403, reason: 'unexpected error' };
    }
    if (this.observer) {
      const kinds = decision.allowed ? decision.channels.map((c) => c.kind) : decision.kind === undefined ? [] : [decision.kind];
      this.observer.authorized({ allowed: decision.allowed, kinds });
    }
    return decision;
  }

  private async decide(
    req: SubscriberAuthRequest,
    channelPath: unknown,
    readSession?: () => Promise<ReadSession | null>,
  ): Promise<ChannelAuthDecision> {
    const parsedIds = parseSubscriberChannelIds(channelPath, this.dialect, {
      maxChannelNameLength: this.options.maxChannelNameLength,
      wildcardPrefixes: this.options.auth.wildcardPrefixes,
      hasRule: (id) => this.ruleFor(id) !== undefined,
      // Refused here, before nginx creates any of them: each new id costs shared memory.
      maxChannels: this.options.auth.maxChannelsPerRequest,
    });
    if (!parsedIds.ok) return this.refuse(req, 403, parsedIds.reason);

    // Structure first, for every channel: no rule (and no database) is consulted for a request
    // that is refused anyway.
    const channels: ParsedChannel[] = [];
    for (const id of parsedIds.ids) {
      const channel = this.channels.parse(id);
      if (!channel) return this.refuse(req, 403, `channel ${describeId(id)} lacks the "${this.channels.prefix}__<kind>__" form`);
      if (!this.registry.get(channel.kind)) return this.refuse(req, 403, `channel ${describeId(id)} has a kind with no rule`);
      channels.push(channel);
    }

    let sessionId: string | null;
    if (readSession) {
      let read: ReadSession | null;
      try {
        read = await readSession();
      } catch (err) {
        this.logger.warn(`Refused ${this.uriOf(req)}: reading the session failed: ${errorText(err)}`);
        return { allowed: false, status: 403, reason: 'reading the session failed', retryable: true };
      }
      req.session = read?.data;
      req.sessionID = read?.id;
      sessionId = read?.id ?? null;
    } else {
      sessionId = loadedSessionId(req);
    }

    let user: PushStreamUser | null;
    try {
      user = await resolveRequestUser(req, this.options.auth);
    } catch (err) {
      this.logger.warn(`Refused ${this.uriOf(req)}: resolving the user failed: ${errorText(err)}`);
      return { allowed: false, status: 403, reason: 'resolving the user failed' };
    }
    for (const channel of channels) {
      const rule = this.registry.get(channel.kind)!;
      let allowed: unknown;
      try {
        allowed = await rule.canSubscribe({ request: req, user, sessionId, channel });
      } catch (err) {
        this.logger.warn(`Refused ${this.uriOf(req)}: the "${rule.kind}" rule threw: ${errorText(err)}`);
        return { allowed: false, status: 403, reason: `the "${rule.kind}" rule failed`, kind: rule.kind };
      }
      // Only a real `true` allows: a rule returning a truthy object or string by mistake denies.
      if (allowed !== true) {
        const status = rule.requiresSession && sessionId === null && user === null ? 401 : 403;
        return { ...this.refuse(req, status, `channel ${describeId(channel.name)} refused by the "${rule.kind}" rule`), kind: rule.kind };
      }
    }
    return { allowed: true, channels, user, sessionId };
  }

  private ruleFor(id: string) {
    const channel = this.channels.parse(id);
    return channel ? this.registry.get(channel.kind) : undefined;
  }

  private refuse(req: SubscriberAuthRequest, status: 401 | 403, reason: string): Extract<ChannelAuthDecision, { allowed: false }> {
    // Refusals are routine (expired sessions, probes): debug, not warn.
    this.logger.debug(`Refused ${this.uriOf(req)} with ${status}: ${reason}`);
    return { allowed: false, status, reason };
  }

  /** What a log line names the subscription by: X-Original-URI from a config that sends it, else the channels. */
  private uriOf(req: SubscriberAuthRequest): string {
    const uri = req.headers?.[ORIGINAL_URI_HEADER];
    if (typeof uri === 'string') return describeId(uri);
    const channels = req.headers?.[CHANNELS_HEADER];
    return typeof channels === 'string' ? `channels ${describeId(channels)}` : '(no channels header)';
  }
}
