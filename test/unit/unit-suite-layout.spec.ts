// test/unit (and the specs beside lib/) run with no nginx and no sockets, so `npm run test:unit`
// works on a machine without nginx: suites that listen or connect live in test/integration or
// test/e2e. This reads the spec files as text; a new socket in a unit test shows up here.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function specs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? specs(join(dir, e.name)) : e.name.endsWith('.spec.ts') ? [join(dir, e.name)] : [],
  );
}

/** What starts a server, opens a connection or runs nginx or a browser. */
const SOCKETS = [/from 'node:https?'/, /\bfetch\(/, /\.listen\(/, /\bconnect\(\{/, /NginxTestServer\.start/, /playwright/, /from 'ws'/, /new WebSocketServer/];

describe('unit suites', () => {
  const files = [...specs(join(ROOT, 'test', 'unit')), ...specs(join(ROOT, 'lib'))].filter((f) => !f.endsWith('unit-suite-layout.spec.ts'));

  it('exist', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it('open no sockets and start no nginx or browser', () => {
    const offenders = files.flatMap((f) => {
      const text = readFileSync(f, 'utf8');
      return SOCKETS.filter((p) => p.test(text)).map((p) => `${relative(ROOT, f)}: ${p}`);
    });
    expect(offenders).toEqual([]);
  });

  it('the check would catch one (the integration suites it moved out)', () => {
    const caught = specs(join(ROOT, 'test', 'integration')).filter((f) => SOCKETS.some((p) => p.test(readFileSync(f, 'utf8'))));
    expect(caught.length).toBeGreaterThanOrEqual(3);
  });
});
