import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { BoundedMemo } from './bounded-memo.js';
import { InvalidChannelNameError } from '../errors/push-stream.exception.js';
import type { ParsedChannel } from '../auth/channel-rule.interface.js';
import type { ResolvedPushStreamOptions } from '../options/push-stream-options.interface.js';
import { assertValidChannelName, CHANNEL_KIND_PATTERN, CHANNEL_NAME_PATTERN, UUID_V4_PATTERN } from './channel-name.js';
import { recordIssuedPage } from './issued-pages.js';

/** Length of a session token in hex characters: 128 bits of HMAC-SHA256. */
const SESSION_TOKEN_LENGTH = 32;
/**
 * Label of the key session tokens are made with: HMAC-SHA256(secret, label). express-session signs
 * its cookie with HMAC-SHA256(secret, session id); keyed with the secret itself, a token would be
 * the first 16 bytes of that signature whenever an application used one value for both secrets.
 */
export const SESSION_TOKEN_KEY_LABEL = 'nestjs-push-stream session channel token v1';
const SESSION_TOKEN_PATTERN = new RegExp(`^[0-9a-f]{${SESSION_TOKEN_LENGTH}}$`);

/**
 * Builds every channel name the application uses, with the seed package's scheme:
 * `<prefix>__all__`, `<prefix>__authorized__`, `<prefix>__session__<token>`,
 * `<prefix>__user__<id>`, `<prefix>__uuid__<uuid>`, and `<prefix>__<kind>__<value>` for your own kinds.
 * Every name is checked before it is returned, so an unsafe id fails here and never reaches nginx.
 */
export class PushStreamChannels {
  readonly prefix: string;
  /** Derived from `secret`, never the secret itself (see SESSION_TOKEN_KEY_LABEL). */
  private readonly sessionKey: Buffer;
  private readonly maxLength: number;
  private readonly tokens: BoundedMemo<string>;

  constructor(options: Pick<ResolvedPushStreamOptions, 'prefix' | 'secret' | 'maxChannelNameLength'>) {
    this.prefix = options.prefix;
    this.sessionKey = createHmac('sha256', options.secret).update(SESSION_TOKEN_KEY_LABEL, 'utf8').digest();
    this.maxLength = options.maxChannelNameLength;
    this.tokens = new BoundedMemo((sessionId) =>
      createHmac('sha256', this.sessionKey).update(sessionId, 'utf8').digest('hex').slice(0, SESSION_TOKEN_LENGTH),
    );
  }

  /** Every visitor, anonymous included. */
  all(): string {
    return `${this.prefix}__all__`;
  }

  /** Every logged-in user. */
  authorized(): string {
    return `${this.prefix}__authorized__`;
  }

  /** One session. The id is replaced by an HMAC token: a session id in a URL or log is a hijacked session. */
  session(sessionId: string): string {
    if (typeof sessionId !== 'string' || sessionId === '') {
      throw new InvalidChannelNameError(String(sessionId), 'a session channel needs a non-empty session id');
    }
    return this.kind('session', this.sessionToken(sessionId));
  }

  /** One user, by id (a number or a string of the safe alphabet). */
  user(userId: string | number): string {
    const id = String(userId);
    if (id === '' || !CHANNEL_NAME_PATTERN.test(id)) {
      throw new InvalidChannelNameError(`${this.prefix}__user__${id}`, 'a user id may only contain letters, digits, "_" and "-"');
    }
    return this.kind('user', id);
  }

  /** One rendered page, by a random v4 UUID (crypto.randomUUID()). */
  page(uuid: string): string {
    if (typeof uuid !== 'string' || !UUID_V4_PATTERN.test(uuid)) {
      throw new InvalidChannelNameError(`${this.prefix}__uuid__${String(uuid)}`, 'a page channel needs a random v4 UUID');
    }
    return this.kind('uuid', uuid.toLowerCase());
  }

  /**
   * A page channel handed to this session: the UUID is recorded in `session` (express-session's
   * `req.session`), so that with `auth.pageChannels: 'issued'` only this session may subscribe to
   * it. The newest 32 pages of a session are kept. A fresh random UUID unless one is given.
   */
  issuePage(session: object, uuid: string = randomUUID()): string {
    if (session === null || typeof session !== 'object') {
      throw new InvalidChannelNameError(`${this.prefix}__uuid__`, 'issuePage needs the session object (req.session) to record the page in');
    }
    const name = this.page(uuid);
    recordIssuedPage(session, name.slice(`${this.prefix}__uuid__`.length));
    return name;
  }

  /** An application's own kind, e.g. custom('room', '42') gives `my-app__room__42`. */
  custom(kind: string, value: string | number): string {
    if (!CHANNEL_KIND_PATTERN.test(kind)) {
      throw new InvalidChannelNameError(`${this.prefix}__${kind}__`, 'a kind is lower-case letters, digits and "-", starting with a letter');
    }
    const v = String(value);
    if (v === '') throw new InvalidChannelNameError(`${this.prefix}__${kind}__`, 'a custom channel needs a value');
    if (v.includes('__')) throw new InvalidChannelNameError(`${this.prefix}__${kind}__${v}`, 'a value must not contain "__"');
    return this.kind(kind, v);
  }

  /** The name after the prefix, as the seed's `-q __all__` took it: `withPrefix('__all__')`. */
  withPrefix(suffix: string): string {
    const name = `${this.prefix}${suffix}`;
    assertValidChannelName(name, this.maxLength);
    return name;
  }

  /** Checks a full channel name and returns it. */
  validate(name: string): string {
    assertValidChannelName(name, this.maxLength);
    return name;
  }

  /**
   * HMAC-SHA256 of the session id, hex, 128 bits, under a key derived from the configured secret
   * (HMAC-SHA256(secret, SESSION_TOKEN_KEY_LABEL)). Not a name for anything the user sees: it is
   * the capability to read the session's channel.
   */
  sessionToken(sessionId: string): string {
    return this.tokens.get(sessionId);
  }

  /** Constant-time check that `token` is the session token of `sessionId`. */
  isSessionToken(token: unknown, sessionId: string): boolean {
    // Shape first: timingSafeEqual throws on buffers of different byte lengths.
    if (typeof token !== 'string' || !SESSION_TOKEN_PATTERN.test(token)) return false;
    return timingSafeEqual(Buffer.from(token), Buffer.from(this.sessionToken(sessionId)));
  }

  /**
   * Splits a full name into kind and value, or returns null when it lacks the prefix or the
   * `__kind__` marker. `my-app__all__evil` parses as kind `all` with value `evil`: rules for
   * `all` and `authorized` must insist on an empty value.
   */
  parse(name: string): ParsedChannel | null {
    const head = `${this.prefix}__`;
    if (!name.startsWith(head)) return null;
    const rest = name.slice(head.length);
    const end = rest.indexOf('__');
    if (end <= 0) return null;
    const kind = rest.slice(0, end);
    if (!CHANNEL_KIND_PATTERN.test(kind)) return null;
    return { name, kind, value: rest.slice(end + 2) };
  }

  private kind(kind: string, value: string): string {
    const name = `${this.prefix}__${kind}__${value}`;
    assertValidChannelName(name, this.maxLength);
    return name;
  }
}
