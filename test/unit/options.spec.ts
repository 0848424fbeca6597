import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { pushStreamConfig } from '../../lib/config/index.js';
import { PushStreamConfigError, PushStreamError } from '../../lib/errors/index.js';
import {
  pushStreamOptionsFromEnv,
  resolvePushStreamOptions,
  type PushStreamModuleOptions,
} from '../../lib/options/index.js';
import { PushStreamDialect } from '../../lib/dialects/push-stream-dialect.interface.js';
import { PUSH_STREAM_RESOLVED_OPTIONS } from '../../lib/push-stream.constants.js';
import { PushStreamModule } from '../../lib/push-stream.module.js';
import { PushStreamService } from '../../lib/service/index.js';

const SECRET = 'a-secret-of-32-characters-length';
const base: PushStreamModuleOptions = { publisherUrl: 'http://127.0.0.1:9080/pub', secret: SECRET };

/** The PushStreamConfigError thrown by `fn`, failing the test when there is none. */
function configError(fn: () => unknown): PushStreamConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PushStreamConfigError);
    expect(err).toBeInstanceOf(PushStreamError);
    return err as PushStreamConfigError;
  }
  throw new Error('expected a PushStreamConfigError, nothing was thrown');
}

describe('resolvePushStreamOptions', () => {
  it('applies every default', () => {
    expect(resolvePushStreamOptions(base)).toEqual({
      server: 'push-stream',
      publisherUrls: ['http://127.0.0.1:9080/pub'],
      statsUrl: 'http://127.0.0.1:9080/channels-stats',
      subscriber: undefined,
      prefix: 'my-app',
      secret: SECRET,
      publishTimeoutMs: 5000,
      retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 2000 },
      maxMessageBytes: 65536,
      maxChannelNameLength: 128,
      channelDelimiter: '/',
      auth: {
        sessionUserKey: 'user',
        resolveUser: undefined,
        wildcardPrefixes: [],
        rules: [],
        maxChannelsPerRequest: 16,
        pageChannels: 'any',
        ticketTtlSeconds: 60,
        ticketFormat: 'hmac-sha256',
      },
      undici: {},
    });
  });

  it('defaults the stats URL per server on the first publisher origin and strips trailing slashes', () => {
    const nchan = resolvePushStreamOptions({
      ...base,
      server: 'nchan',
      publisherUrl: ['https://push.example.com:8443/pub/', 'http://10.0.0.2/pub'],
    });
    expect(nchan.publisherUrls).toEqual(['https://push.example.com:8443/pub', 'http://10.0.0.2/pub']);
    expect(nchan.statsUrl).toBe('https://push.example.com:8443/nchan-stats');
    expect(resolvePushStreamOptions({ ...base, statsUrl: 'http://h/stats/' }).statsUrl).toBe('http://h/stats');
  });

  it('keeps given values', () => {
    const resolved = resolvePushStreamOptions({
      ...base,
      server: 'nchan',
      prefix: 'shop_2-x',
      publishTimeoutMs: 250,
      retry: { attempts: 1 },
      maxMessageBytes: 1000,
      maxChannelNameLength: 64,
      channelDelimiter: ',',
      subscriber: { host: 'push.example.com', port: 443, protocol: 'https' },
      auth: { sessionUserKey: 'account', wildcardPrefixes: ['room'], maxChannelsPerRequest: 255, pageChannels: 'issued' },
    });
    expect(resolved.auth).toMatchObject({ maxChannelsPerRequest: 255, pageChannels: 'issued' });
    expect(resolvePushStreamOptions({ ...base, auth: { maxChannelsPerRequest: 1 } }).auth.maxChannelsPerRequest).toBe(1);
    expect(resolved).toMatchObject({
      server: 'nchan',
      prefix: 'shop_2-x',
      publishTimeoutMs: 250,
      retry: { attempts: 1, baseDelayMs: 100, maxDelayMs: 2000 },
      maxMessageBytes: 1000,
      maxChannelNameLength: 64,
      channelDelimiter: ',',
      subscriber: { host: 'push.example.com', port: 443, protocol: 'https' },
      auth: { sessionUserKey: 'account', wildcardPrefixes: ['room'] },
    });
  });

  // [field the error must name, bad options]
  const bad: Array<[string, unknown]> = [
    ['options', null],
    ['options', 'http://127.0.0.1/pub'],
    ['server', { ...base, server: 'nginx' }],
    ['publisherUrl', { ...base, publisherUrl: [] }],
    ['publisherUrl', { ...base, publisherUrl: '' }],
    ['publisherUrl', { ...base, publisherUrl: undefined }],
    ['publisherUrl', { ...base, publisherUrl: 'not a url' }],
    ['publisherUrl', { ...base, publisherUrl: 'ftp://127.0.0.1/pub' }],
    ['publisherUrl', { ...base, publisherUrl: 'http://127.0.0.1/pub?id=x' }],
    ['publisherUrl', { ...base, publisherUrl: 'http://127.0.0.1/pub#x' }],
    ['publisherUrl[1]', { ...base, publisherUrl: ['http://a/pub', 'nope'] }],
    ['statsUrl', { ...base, statsUrl: 'http://127.0.0.1/channels-stats?id=ALL' }],
    ['statsUrl', { ...base, statsUrl: 'stats' }],
    ['prefix', { ...base, prefix: '' }],
    ['prefix', { ...base, prefix: 'my app' }],
    ['prefix', { ...base, prefix: 'my/app' }],
    ['prefix', { ...base, prefix: 'my__app' }],
    ['prefix', { ...base, prefix: 'x'.repeat(65) }],
    ['prefix', { ...base, prefix: 42 }],
    ['secret', { ...base, secret: undefined }],
    ['secret', { ...base, secret: 'short' }],
    ['secret', { ...base, secret: 'x'.repeat(15) }],
    ['subscriber.host', { ...base, subscriber: { host: 'bad host/', protocol: 'http' } }],
    ['subscriber.protocol', { ...base, subscriber: { host: 'localhost', protocol: 'ws' } }],
    ['subscriber.port', { ...base, subscriber: { host: 'localhost', protocol: 'http', port: 0 } }],
    ['subscriber.port', { ...base, subscriber: { host: 'localhost', protocol: 'http', port: 1.5 } }],
    ['subscriber.port', { ...base, subscriber: { host: 'localhost', protocol: 'http', port: 65536 } }],
    ['retry.attempts', { ...base, retry: { attempts: 0 } }],
    ['retry.attempts', { ...base, retry: { attempts: '3' } }],
    ['retry.baseDelayMs', { ...base, retry: { baseDelayMs: -1 } }],
    ['retry.maxDelayMs', { ...base, retry: { maxDelayMs: 0.5 } }],
    ['publishTimeoutMs', { ...base, publishTimeoutMs: 0 }],
    ['publishTimeoutMs', { ...base, publishTimeoutMs: Number.NaN }],
    ['maxMessageBytes', { ...base, maxMessageBytes: -5 }],
    ['maxChannelNameLength', { ...base, maxChannelNameLength: 0 }],
    ['channelDelimiter', { ...base, server: 'nchan', channelDelimiter: '' }],
    ['channelDelimiter', { ...base, server: 'nchan', channelDelimiter: '::' }],
    ['channelDelimiter', { ...base, server: 'nchan', channelDelimiter: '_' }],
    ['channelDelimiter', { ...base, server: 'nchan', channelDelimiter: 'a' }],
    ['channelDelimiter', { ...base, channelDelimiter: ',' }], // push-stream always uses "/"
    ['auth.resolveUser', { ...base, auth: { resolveUser: 'user' } }],
    ['auth.wildcardPrefixes', { ...base, auth: { wildcardPrefixes: 'room' } }],
    ['auth.wildcardPrefixes', { ...base, auth: { wildcardPrefixes: [''] } }],
    ['auth.rules', { ...base, auth: { rules: [{ kind: 'room' }] } }],
    ['auth.rules', { ...base, auth: { rules: {} } }],
    ['auth.maxChannelsPerRequest', { ...base, auth: { maxChannelsPerRequest: 0 } }],
    ['auth.maxChannelsPerRequest', { ...base, auth: { maxChannelsPerRequest: 256 } }], // Nchan's own limit is 255
    ['auth.maxChannelsPerRequest', { ...base, auth: { maxChannelsPerRequest: 2.5 } }],
    ['auth.maxChannelsPerRequest', { ...base, auth: { maxChannelsPerRequest: '16' } }],
    ['auth.maxChannelsPerRequest', { ...base, auth: { maxChannelsPerRequest: Number.POSITIVE_INFINITY } }],
    ['auth.pageChannels', { ...base, auth: { pageChannels: 'none' } }],
    ['auth.pageChannels', { ...base, auth: { pageChannels: true } }],
    ['auth.ticketFormat', { ...base, auth: { ticketFormat: 'md5' } }],
  ];

  it.each(bad)('refuses a bad %s with a PushStreamConfigError naming it', (field, options) => {
    const err = configError(() => resolvePushStreamOptions(options as PushStreamModuleOptions));
    expect(err.field).toBe(field);
    expect(err.message).toContain(`"${field}"`);
    expect(err.retryable).toBe(false);
  });

  it('explains the limits of auth.maxChannelsPerRequest and auth.pageChannels', () => {
    expect(configError(() => resolvePushStreamOptions({ ...base, auth: { maxChannelsPerRequest: 300 } })).message).toMatch(
      /at most 255 \(Nchan multiplexes no more\), got 300/,
    );
    expect(configError(() => resolvePushStreamOptions({ ...base, auth: { maxChannelsPerRequest: 0 } })).message).toMatch(/integer >= 1, got 0/);
    expect(
      configError(() => resolvePushStreamOptions({ ...base, auth: { pageChannels: 'sessions' as 'any' } })).message,
    ).toMatch(/must be "any" or "issued", got "sessions"/);
  });

  it('never echoes the secret in its error', () => {
    const err = configError(() => resolvePushStreamOptions({ ...base, secret: 'tooshort-SECRET' }));
    expect(err.message).not.toContain('tooshort-SECRET');
  });
});

describe('pushStreamOptionsFromEnv', () => {
  it('maps NGINX_PUSH_STREAM_PUB_URL (comma-separated) and the other variables', () => {
    const options = pushStreamOptionsFromEnv({
      NGINX_PUSH_STREAM_PUB_URL: 'http://a:9080/pub, http://b:9080/pub ,',
      NGINX_PUSH_STREAM_PUB_HOST: 'ignored-when-PUB_URL-is-set',
      NGINX_PUSH_STREAM_SUB_HOST: 'push.example.com',
      NGINX_PUSH_STREAM_SUB_PORT: '8443',
      NGINX_PUSH_STREAM_SUB_PROTOCOL: 'https',
      NGINX_PUSH_STREAM_PUB_PREFIX: 'shop',
      NGINX_PUSH_STREAM_SERVER: 'nchan',
      NGINX_PUSH_STREAM_SECRET: SECRET,
      NGINX_PUSH_STREAM_STATS_URL: 'http://a:9080/nchan-stats',
      NGINX_PUSH_STREAM_TIMEOUT_MS: '1500',
      NGINX_PUSH_STREAM_RETRY_ATTEMPTS: '5',
      NGINX_PUSH_STREAM_MAX_MESSAGE_BYTES: '1024',
      NGINX_PUSH_STREAM_CHANNEL_DELIMITER: ',',
    });
    expect(options).toEqual({
      server: 'nchan',
      publisherUrl: ['http://a:9080/pub', 'http://b:9080/pub'],
      statsUrl: 'http://a:9080/nchan-stats',
      subscriber: { host: 'push.example.com', port: 8443, protocol: 'https' },
      prefix: 'shop',
      secret: SECRET,
      publishTimeoutMs: 1500,
      retry: { attempts: 5 },
      maxMessageBytes: 1024,
      channelDelimiter: ',',
    });
    expect(resolvePushStreamOptions(options).publisherUrls).toEqual(['http://a:9080/pub', 'http://b:9080/pub']);
  });

  it('builds the publisher URL from PROTOCOL, PUB_HOST, PUB_PORT and PUB_ENDPOINT', () => {
    expect(
      pushStreamOptionsFromEnv({
        NGINX_PUSH_STREAM_PROTOCOL: 'https',
        NGINX_PUSH_STREAM_PUB_HOST: 'nginx',
        NGINX_PUSH_STREAM_PUB_PORT: '8080',
        NGINX_PUSH_STREAM_PUB_ENDPOINT: '/publish',
        NGINX_PUSH_STREAM_SECRET: SECRET,
      }).publisherUrl,
    ).toBe('https://nginx:8080/publish');
  });

  it('defaults to http://127.0.0.1:9081/pub (the internal publisher listener of the shipped configs) and leaves the rest to the module defaults', () => {
    const options = pushStreamOptionsFromEnv({ NGINX_PUSH_STREAM_SECRET: SECRET, NGINX_PUSH_STREAM_PUB_PREFIX: '' });
    expect(options).toEqual({
      server: undefined,
      publisherUrl: 'http://127.0.0.1:9081/pub',
      statsUrl: undefined,
      subscriber: undefined,
      prefix: undefined,
      secret: SECRET,
      publishTimeoutMs: undefined,
      retry: undefined,
      maxMessageBytes: undefined,
      channelDelimiter: undefined,
    });
    expect(resolvePushStreamOptions(options).prefix).toBe('my-app');
  });

  it('gives the subscriber the publisher protocol unless SUB_PROTOCOL says otherwise', () => {
    expect(
      pushStreamOptionsFromEnv({ NGINX_PUSH_STREAM_PROTOCOL: 'https', NGINX_PUSH_STREAM_SUB_HOST: 'localhost', NGINX_PUSH_STREAM_SECRET: SECRET })
        .subscriber,
    ).toEqual({ host: 'localhost', port: undefined, protocol: 'https' });
  });

  it.each([
    ['NGINX_PUSH_STREAM_PUB_PORT', 'abc'],
    ['NGINX_PUSH_STREAM_PUB_PORT', '80.5'],
    ['NGINX_PUSH_STREAM_SUB_PORT', '-1'],
    ['NGINX_PUSH_STREAM_TIMEOUT_MS', '5s'],
    ['NGINX_PUSH_STREAM_RETRY_ATTEMPTS', ' 3'],
    ['NGINX_PUSH_STREAM_MAX_MESSAGE_BYTES', '64k'],
  ])('refuses %s=%j naming the variable', (name, value) => {
    const env: Record<string, string> = { NGINX_PUSH_STREAM_SECRET: SECRET, NGINX_PUSH_STREAM_SUB_HOST: 'localhost', [name]: value };
    const err = configError(() => pushStreamOptionsFromEnv(env));
    expect(err.field).toBe(name);
    expect(err.message).toContain(JSON.stringify(value));
  });

  it('refuses a protocol other than http/https', () => {
    expect(configError(() => pushStreamOptionsFromEnv({ NGINX_PUSH_STREAM_PROTOCOL: 'ws' })).field).toBe('NGINX_PUSH_STREAM_PROTOCOL');
  });

  it.each([
    ['NGINX_PUSH_STREAM_PUB_PORT', '99999'],
    ['NGINX_PUSH_STREAM_PUB_PORT', '0'],
    ['NGINX_PUSH_STREAM_SUB_PORT', '65536'],
  ])('refuses %s=%s as a port (not as a URL)', (name, value) => {
    const err = configError(() => pushStreamOptionsFromEnv({ NGINX_PUSH_STREAM_SECRET: SECRET, NGINX_PUSH_STREAM_SUB_HOST: 'localhost', [name]: value }));
    expect(err.field).toBe(name);
    expect(err.message).toMatch(/port/);
    expect(err.message).toContain(value);
    expect(err.message).not.toMatch(/not a URL/);
  });

  it('accepts the whole port range', () => {
    expect(pushStreamOptionsFromEnv({ NGINX_PUSH_STREAM_SECRET: SECRET, NGINX_PUSH_STREAM_PUB_PORT: '65535' }).publisherUrl).toBe('http://127.0.0.1:65535/pub');
    expect(pushStreamOptionsFromEnv({ NGINX_PUSH_STREAM_SECRET: SECRET, NGINX_PUSH_STREAM_PUB_PORT: '1' }).publisherUrl).toBe('http://127.0.0.1:1/pub');
  });

  it('leaves semantic checks to resolvePushStreamOptions, which names the field', () => {
    const options = pushStreamOptionsFromEnv({ NGINX_PUSH_STREAM_SERVER: 'apache', NGINX_PUSH_STREAM_SECRET: SECRET });
    expect(configError(() => resolvePushStreamOptions(options)).field).toBe('server');
    expect(configError(() => resolvePushStreamOptions(pushStreamOptionsFromEnv({}))).field).toBe('secret');
  });
});

describe('PushStreamModule options at start-up', () => {
  it.each([
    ['secret', { ...base, secret: 'short' }],
    ['publisherUrl', { ...base, publisherUrl: 'localhost:9080/pub' }],
    ['retry.attempts', { ...base, retry: { attempts: 0 } }],
  ])('forRoot with a bad %s fails compile() naming the field', async (field, options) => {
    const compiling = Test.createTestingModule({
      imports: [PushStreamModule.forRoot({ ...(options as PushStreamModuleOptions), authRoute: false })],
    }).compile();
    await expect(compiling).rejects.toBeInstanceOf(PushStreamConfigError);
    await expect(compiling).rejects.toMatchObject({ field, message: expect.stringContaining(`"${field}"`) });
  });

  it('forRoot with good options provides the resolved options, the dialect and the service', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [PushStreamModule.forRoot({ ...base, server: 'nchan', authRoute: false })],
    }).compile();
    try {
      expect(moduleRef.get(PUSH_STREAM_RESOLVED_OPTIONS).statsUrl).toBe('http://127.0.0.1:9080/nchan-stats');
      expect(moduleRef.get(PushStreamDialect).kind).toBe('nchan');
      expect(moduleRef.get(PushStreamService)).toBeInstanceOf(PushStreamService);
    } finally {
      await moduleRef.close();
    }
  });

  describe('forRootAsync with @nestjs/config', () => {
    const saved = { ...process.env };
    afterEach(() => {
      for (const k of Object.keys(process.env)) if (k.startsWith('NGINX_PUSH_STREAM_')) delete process.env[k];
      Object.assign(process.env, saved);
    });

    it('works with pushStreamConfig.asProvider()', async () => {
      process.env.NGINX_PUSH_STREAM_PUB_URL = 'http://nginx-from-env:9080/pub';
      process.env.NGINX_PUSH_STREAM_SECRET = SECRET;
      process.env.NGINX_PUSH_STREAM_PUB_PREFIX = 'from-env';
      const moduleRef = await Test.createTestingModule({
        imports: [
          ConfigModule.forRoot({ load: [pushStreamConfig], ignoreEnvFile: true }),
          PushStreamModule.forRootAsync({ ...pushStreamConfig.asProvider(), authRoute: false }),
        ],
      }).compile();
      try {
        const resolved = moduleRef.get(PUSH_STREAM_RESOLVED_OPTIONS);
        expect(resolved.publisherUrls).toEqual(['http://nginx-from-env:9080/pub']);
        expect(resolved.prefix).toBe('from-env');
        expect(moduleRef.get(PushStreamService).channels.all()).toBe('from-env__all__');
      } finally {
        await moduleRef.close();
      }
    });

    it('fails start-up naming the field when the environment is bad', async () => {
      process.env.NGINX_PUSH_STREAM_SECRET = 'short';
      const compiling = Test.createTestingModule({
        imports: [
          ConfigModule.forRoot({ load: [pushStreamConfig], ignoreEnvFile: true }),
          PushStreamModule.forRootAsync({ ...pushStreamConfig.asProvider(), authRoute: false }),
        ],
      }).compile();
      await expect(compiling).rejects.toMatchObject({ name: 'PushStreamConfigError', field: 'secret' });
    });

    it('works with useFactory and inject', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          PushStreamModule.forRootAsync({
            useFactory: async () => ({ ...base, prefix: 'async' }),
            authRoute: false,
          }),
        ],
      }).compile();
      try {
        expect(moduleRef.get(PUSH_STREAM_RESOLVED_OPTIONS).prefix).toBe('async');
      } finally {
        await moduleRef.close();
      }
    });
  });

  describe('isGlobal', () => {
    @Injectable()
    class Notifier {
      constructor(readonly push: PushStreamService) {}
    }
    @Module({ providers: [Notifier], exports: [Notifier] })
    class FeatureModule {}

    it('with isGlobal: true, a module that does not import PushStreamModule can inject the service', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [PushStreamModule.forRoot({ ...base, isGlobal: true, authRoute: false }), FeatureModule],
      }).compile();
      try {
        expect(moduleRef.get(Notifier).push).toBeInstanceOf(PushStreamService);
      } finally {
        await moduleRef.close();
      }
    });

    it('without it, that module cannot', async () => {
      await expect(
        Test.createTestingModule({ imports: [PushStreamModule.forRoot({ ...base, authRoute: false }), FeatureModule] }).compile(),
      ).rejects.toThrow(/Notifier/);
    });

    it('forRootAsync honours isGlobal too', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [PushStreamModule.forRootAsync({ isGlobal: true, useFactory: () => base, authRoute: false }), FeatureModule],
      }).compile();
      try {
        expect(moduleRef.get(Notifier).push).toBeInstanceOf(PushStreamService);
      } finally {
        await moduleRef.close();
      }
    });
  });
});

describe('credentials in URLs are never echoed', () => {
  it('a publisherUrl with a port out of range says "port", with the credentials redacted', () => {
    const err = configError(() => resolvePushStreamOptions({ ...base, publisherUrl: 'http://admin:P4ssw0rd@127.0.0.1:99999/pub' }));
    expect(err.field).toBe('publisherUrl');
    expect(err.message).toMatch(/port must be 1-65535, got 99999/);
    expect(err.message).toContain('http://***@127.0.0.1:99999/pub');
    expect(err.message).not.toContain('P4ssw0rd');
    expect(err.message).not.toContain('admin');
  });

  it('a URL that does not parse is echoed without its credentials', () => {
    const err = configError(() => resolvePushStreamOptions({ ...base, publisherUrl: 'http://admin:P4ssw0rd@exa mple/pub' }));
    expect(err.message).toMatch(/is not a URL/);
    expect(err.message).not.toContain('P4ssw0rd');
  });

  it('a valid URL with credentials is kept as given for the requests', () => {
    expect(resolvePushStreamOptions({ ...base, publisherUrl: 'http://admin:P4ssw0rd@127.0.0.1:9081/pub' }).publisherUrls).toEqual([
      'http://admin:P4ssw0rd@127.0.0.1:9081/pub',
    ]);
  });
});
