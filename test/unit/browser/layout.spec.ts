// The browser client's layout rules: one home per server (the dialect files), server-neutral
// transports and client, a dependency-free shared module, plain ES modules for the page.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = process.cwd();
const BROWSER = join(ROOT, 'lib/browser');
const SHARED = join(ROOT, 'lib/shared/push-stream-protocol.ts');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [join(dir, e.name)] : [],
  );
}

/** Module specifiers of import/export-from statements, comments left out. */
function specifiers(file: string): string[] {
  const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm), ...code.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => m[1]);
}

const SERVER_BRANCH = [
  /[=!]==?\s*'(nchan|push-stream)'/,
  /'(nchan|push-stream)'\s*[=!]==?/,
  /case\s+'(nchan|push-stream)'/,
  /(?<!typeof )\b(server|kind)\s*[=!]==?/,
];

describe('lib/browser layout', () => {
  const files = sources(BROWSER);

  it('nothing outside the dialect files branches on the server kind', () => {
    const offenders = files
      .filter((f) => !/\/dialects\/[^/]+\.dialect\.ts$/.test(f))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => ({ where: `${relative(ROOT, f)}:${i + 1}`, line }))
          .filter(({ line }) => SERVER_BRANCH.some((re) => re.test(line))),
      );
    expect(offenders).toEqual([]);
  });

  it('one dialect file per server', () => {
    expect(files.filter((f) => f.endsWith('.dialect.ts')).map((f) => relative(BROWSER, f)).sort()).toEqual([
      'dialects/nchan.dialect.ts',
      'dialects/push-stream.dialect.ts',
    ]);
  });

  it('plain ES modules: relative imports ending in .js, no package, nothing outside lib/browser but lib/shared', () => {
    const bad = files.flatMap((f) =>
      specifiers(f)
        .filter((s) => !/^\.{1,2}\/.*\.js$/.test(s) || !join(f, '..', s).startsWith(join(ROOT, 'lib/')) || /^lib\/(?!browser\/|shared\/)/.test(relative(ROOT, join(f, '..', s))))
        .map((s) => `${relative(ROOT, f)}: ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it('transports, tracker and channel checks reach a server only through the dialect interface', () => {
    const neutral = files.filter((f) => /\/transports\/|resume-tracker\.ts$|channel-set\.ts$/.test(f));
    const direct = neutral.flatMap((f) => specifiers(f).filter((s) => s.endsWith('.dialect.js')).map((s) => `${relative(ROOT, f)}: ${s}`));
    expect(direct).toEqual([]);
    // The client only re-exports the decoders (public API); it imports no dialect file itself.
    expect(readFileSync(join(BROWSER, 'push-stream-client.ts'), 'utf8')).not.toMatch(/^import [^;]*\.dialect\.js';$/m);
  });
});

describe('lib/shared/push-stream-protocol.ts', () => {
  it('has no imports (the library and the page both load it)', () => {
    expect(specifiers(SHARED)).toEqual([]);
    expect(readFileSync(SHARED, 'utf8')).not.toMatch(/\brequire\(|\bimport\(/);
  });
});
