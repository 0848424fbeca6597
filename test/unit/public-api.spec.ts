// The exact runtime names of every entry point: an accidental export (or a lost one) fails here
// and shows up in review as a change to test/unit/public-api.expected.ts.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as authListenerEntry from '../../lib/auth-listener/index.js';
import * as axiosEntry from '../../lib/http/axios-http-client.js';
import * as browserEntry from '../../lib/browser/push-stream-client.js';
import * as configEntry from '../../lib/config/index.js';
import * as mainEntry from '../../lib/index.js';
import * as metricsEntry from '../../lib/metrics/index.js';
import * as terminusEntry from '../../lib/terminus/index.js';
import * as testingEntry from '../../lib/testing/index.js';
import { DEPRECATED, PUBLIC_API } from './public-api.expected.js';

const ROOT = process.cwd();
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types?: string; default?: string }>;
};

/** Each entry point's source, imported above, by the file it is built from. */
const SOURCES: Record<string, { file: string; module: object }> = {
  '.': { file: 'lib/index.ts', module: mainEntry },
  './auth-listener': { file: 'lib/auth-listener/index.ts', module: authListenerEntry },
  './axios': { file: 'lib/http/axios-http-client.ts', module: axiosEntry },
  './browser': { file: 'lib/browser/push-stream-client.ts', module: browserEntry },
  './config': { file: 'lib/config/index.ts', module: configEntry },
  './metrics': { file: 'lib/metrics/index.ts', module: metricsEntry },
  './testing': { file: 'lib/testing/index.ts', module: testingEntry },
  './terminus': { file: 'lib/terminus/index.ts', module: terminusEntry },
};

describe('public API', () => {
  it('covers every entry point of package.json, and builds each from the source checked here', () => {
    const entries = Object.entries(manifest.exports).filter(([key]) => key !== './package.json');
    expect(entries.map(([key]) => key).sort()).toEqual(Object.keys(PUBLIC_API).sort());
    expect(Object.keys(SOURCES).sort()).toEqual(Object.keys(PUBLIC_API).sort());
    for (const [key, target] of entries) {
      const built = typeof target === 'string' ? target : target.default;
      expect({ key, source: built?.replace(/^\.\/dist\/(.*)\.js$/, 'lib/$1.ts') }).toEqual({ key, source: SOURCES[key].file });
    }
  });

  it.each(Object.keys(PUBLIC_API))('%s exports exactly the reviewed runtime names', (entry) => {
    expect(Object.keys(SOURCES[entry].module).sort()).toEqual([...PUBLIC_API[entry]].sort());
  });

  it('the main entry stays small: about 25 names', () => {
    expect(PUBLIC_API['.'].length).toBeLessThanOrEqual(28);
  });

  it('lib/index.ts and the entry points export by name, never with export *', () => {
    for (const { file } of Object.values(SOURCES)) {
      expect({ file, star: /^\s*export \*/m.test(readFileSync(join(ROOT, file), 'utf8')) }).toEqual({ file, star: false });
    }
  });

  it('every deprecated name is still exported and marked @deprecated with its replacement', () => {
    const index = readFileSync(join(ROOT, 'lib/index.ts'), 'utf8');
    for (const [name, replacement] of Object.entries(DEPRECATED)) {
      expect(PUBLIC_API['.']).toContain(name);
      const doc = new RegExp(`/\\*\\*(?:(?!\\*/)[\\s\\S])*@deprecated(?:(?!\\*/)[\\s\\S])*${replacement.replace('.', '\\.')}(?:(?!\\*/)[\\s\\S])*\\*/\\s*export const ${name}\\b`);
      expect(index).toMatch(doc);
    }
  });

  it('internal helpers left the main entry', () => {
    // The names the public-API issue named, and the other internal tokens (the resolved options
    // included: deprecated, then removed; PushStreamService.server replaces it).
    for (const name of ['withRetry', 'createDialect', 'parseSubscriberChannelIds', 'realSleep', 'PUSH_STREAM_SLEEP', 'PUSH_STREAM_DIALECT', 'PUSH_STREAM_HTTP_CLIENT', 'PUSH_STREAM_RESOLVED_OPTIONS']) {
      expect(Object.keys(mainEntry)).not.toContain(name);
    }
  });
});
