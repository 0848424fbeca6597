// The library's layout rules (lib/browser has its own in test/unit/browser/layout.spec.ts): one
// home per server (lib/dialects/*.dialect.ts), one map from kind to dialect (create-dialect.ts),
// and the constants the browser shares (lib/shared) used rather than copied.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = process.cwd();
const LIB = join(ROOT, 'lib');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [join(dir, e.name)] : [],
  );
}

/** The library's own sources: not the browser client (its own rules) nor the shared constants. */
const files = sources(LIB).filter((f) => !/^lib\/(browser|shared)\//.test(relative(ROOT, f)));
const rel = (f: string) => relative(ROOT, f);
const isDialectFile = (f: string) => /^lib\/dialects\/[^/]+\.dialect\.ts$/.test(rel(f));

/** Lines of code, comments left out. */
function codeLines(file: string): Array<{ where: string; line: string }> {
  const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ''));
  return code.split('\n').map((line, i) => ({ where: `${rel(file)}:${i + 1}`, line: line.replace(/(^|\s)\/\/.*$/, '') }));
}

function specifiers(file: string): string[] {
  const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm)].map((m) => m[1]);
}

const SERVER_BRANCH = [
  /[=!]==?\s*'(nchan|push-stream)'/,
  /'(nchan|push-stream)'\s*[=!]==?/,
  /case\s+'(nchan|push-stream)'/,
  /\?\s*'(nchan|push-stream)'\s*:/,
  /(?<!typeof\s+[\w.]*)\bserver\s*[=!]==?/,
  // A channel rule's kind is not a server kind: `typeof rule.kind !== 'string'` is a type check.
  /(?<!typeof\s+[\w.]*)\.kind\s*[=!]==?\s*['"`]/,
  /(?:channels|nchan|push)-stats/,
];

/** Copies of what lib/shared/push-stream-protocol.ts holds. */
const COPIES = [
  /\/\^\[A-Za-z0-9_-\]\+\$\//, // the channel alphabet
  /'\/(sub|ws|ev|lp)\/'|`[^`]*\/(sub|ws|ev|lp)\/\$\{/, // subscriber locations
  /===?\s*'ALL'/, // the reserved name
  /\bid:\s*-2\b|'Channel deleted'/, // the deleted notice
  /=\s*255;/, // Nchan's channels per request
];

describe('lib layout', () => {
  it('nothing outside the dialect files branches on the server kind (or names a server location)', () => {
    const offenders = files
      .filter((f) => !isDialectFile(f))
      .flatMap(codeLines)
      .filter(({ line }) => SERVER_BRANCH.some((re) => re.test(line)));
    expect(offenders).toEqual([]);
  });

  it('one dialect file per server, behind the abstract PushStreamDialect', () => {
    expect(files.filter(isDialectFile).map(rel).sort()).toEqual(['lib/dialects/nchan.dialect.ts', 'lib/dialects/push-stream.dialect.ts']);
    for (const f of files.filter(isDialectFile)) expect(readFileSync(f, 'utf8')).toMatch(/class \w+ extends PushStreamDialect\b/);
  });

  it('only create-dialect.ts (and the dialects folder index) picks a dialect by importing it', () => {
    const importers = files
      .filter((f) => specifiers(f).some((s) => /\/[^/]+\.dialect\.js$/.test(s) || /^\.\/[^/]+\.dialect\.js$/.test(s)))
      .map(rel)
      .sort();
    expect(importers).toEqual(['lib/dialects/create-dialect.ts', 'lib/dialects/index.ts']);
  });

  it('uses the shared protocol constants instead of its own copies', () => {
    const users = ['lib/channels/channel-name.ts', 'lib/auth/subscriber-channels.ts', 'lib/options/resolve-options.ts', 'lib/service/subscriber-channel-path.ts', 'lib/dialects/nchan.dialect.ts'];
    for (const file of users) {
      expect({ file, shared: specifiers(join(ROOT, file)).includes('../shared/push-stream-protocol.js') }).toEqual({ file, shared: true });
    }
    const copies = files.flatMap(codeLines).filter(({ line }) => COPIES.some((re) => re.test(line)));
    expect(copies).toEqual([]);
  });

  it('the patterns catch the branches and copies this layout removed (negative control)', () => {
    const before = [
      "  if (server !== 'push-stream' && server !== 'nchan') {",
      "      ? new URL(server === 'nchan' ? '/nchan-stats' : '/channels-stats', publisherUrls[0]).toString()",
      "    return `http://127.0.0.1:${this.pubPort}/${this.server === 'nchan' ? 'nchan-stats' : 'channels-stats'}`;",
      "  return options.server === 'nchan' ? new NchanDialect(options.channelDelimiter) : new PushStreamModuleDialect();",
    ];
    expect(before.filter((line) => !SERVER_BRANCH.some((re) => re.test(line)))).toEqual([]);
    const copied = [
      'export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_-]+$/;',
      "  if (id === 'ALL') return 'is reserved';",
      '      stream: `${http}/sub/${path}`,',
      'const MAX_CHANNELS_PER_REQUEST = 255;',
      "    return JSON.stringify({ id: -2, channel, text: 'Channel deleted', eventid: '', type: '' });",
    ];
    expect(copied.filter((line) => !COPIES.some((re) => re.test(line)))).toEqual([]);
  });
});
