import { randomBytes } from 'node:crypto';
import { registerAs } from '@nestjs/config';

/** A demo user: there are no passwords, the sample only shows what logging in changes. */
export interface DemoUser {
  id: string;
  name: string;
}

export interface SampleConfig {
  host: string;
  port: number;
  /** Loopback port of the internal listener (health, metrics), from INTERNAL_PORT; none when unset. */
  internalPort?: number;
  /**
   * Port of the auth listener (nestjs-push-stream/auth-listener), on HOST, from AUTH_PORT: nginx's
   * auth subrequests are answered there, outside Express, when nginx is told so
   * (`--auth-app host:AUTH_PORT`). Unset: the app's own endpoint, /push-stream/auth, answers them.
   */
  authPort?: number;
  /** Users who may log in, from DEMO_USERS=alice,bob,carol. */
  users: DemoUser[];
  /**
   * Signs the session cookie and keys the CSRF tokens. A random one per start when SESSION_SECRET is
   * unset (sessions end on restart). Must differ from NGINX_PUSH_STREAM_SECRET.
   */
  sessionSecret: string;
  sessionSecretIsRandom: boolean;
  /** Sessions in Redis (connect-redis) when set, e.g. redis://redis:6379; the in-memory store otherwise. */
  redisUrl?: string;
  /** Messages a new page gets from `__all__` on join. */
  historyLength: number;
  /** Length of the long task, in milliseconds. */
  taskDurationMs: number;
}

const USER_ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export function parseDemoUsers(raw: string): DemoUser[] {
  const ids = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const id of ids) {
    if (!USER_ID.test(id)) throw new Error(`DEMO_USERS: "${id}" is not a valid user id (a-z, 0-9, "_", "-", at most 32)`);
  }
  return [...new Set(ids)].map((id) => ({ id, name: id.charAt(0).toUpperCase() + id.slice(1) }));
}

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The sample's own settings, namespace `sample` in ConfigService. */
export const sampleConfig = registerAs('sample', (): SampleConfig => {
  const secret = process.env.SESSION_SECRET;
  if (secret !== undefined && secret.length < 16) throw new Error('SESSION_SECRET must be at least 16 characters');
  // One leaked key must not give away the other: the cookie secret signs sessions (and keys the
  // CSRF tokens), the push-stream secret keys the session channel tokens.
  if (secret !== undefined && secret === process.env.NGINX_PUSH_STREAM_SECRET) {
    throw new Error('SESSION_SECRET must differ from NGINX_PUSH_STREAM_SECRET: give each its own random value');
  }
  const port = intEnv('PORT', 3000, 0, 65535);
  const internalPort = process.env.INTERNAL_PORT ? intEnv('INTERNAL_PORT', 0, 1, 65535) : undefined;
  const authPort = process.env.AUTH_PORT ? intEnv('AUTH_PORT', 0, 1, 65535) : undefined;
  if (authPort !== undefined && (authPort === port || authPort === internalPort)) {
    throw new Error('AUTH_PORT must differ from PORT and INTERNAL_PORT: the auth listener is a server of its own');
  }
  return {
    host: process.env.HOST || '127.0.0.1',
    port,
    internalPort,
    authPort,
    users: parseDemoUsers(process.env.DEMO_USERS ?? 'alice,bob,carol'),
    sessionSecret: secret ?? randomBytes(32).toString('hex'),
    sessionSecretIsRandom: secret === undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    historyLength: intEnv('HISTORY_LENGTH', 10, 0, 20),
    taskDurationMs: intEnv('TASK_DURATION_MS', 3000, 100, 60_000),
  };
});
