// Builds the package with its own build script, packs it as npm would publish it, installs the
// tarball into a throw-away project and imports every entry point from a separate Node process.
// The build runs in a copy of the package so that it never deletes the checkout's dist/ under a
// test that is using it.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { npmRunBuild, REPO_ROOT, runNode } from '../support/build.js';
import { PUBLIC_API } from '../unit/public-api.expected.js';

const run = promisify(execFile);

interface PackedFile {
  path: string;
  mode: number;
}
interface PackResult {
  name: string;
  version: string;
  filename: string;
  files: PackedFile[];
}
interface Manifest {
  name: string;
  bin: Record<string, string>;
  exports: Record<string, string | { types?: string; default?: string }>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/**
 * The browser client is being added (lib/browser, built to dist/browser; or a hand-written browser/).
 * Until its source is in the checkout, its export targets cannot exist and are not checked here.
 */

let work: string;
let packed: PackResult;
let manifest: Manifest;
/** A project with the package and only its required dependencies and peers. */
let minimal: string;
/** The same plus the optional peers (@nestjs/axios, axios, @nestjs/config, prom-client, @nestjs/terminus). */
let full: string;

async function npm(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run('npm', args, { cwd, maxBuffer: 32 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${stdout}\n${stderr}`);
  }
}

/** Links `name` from the repository's node_modules into `project`'s, as an installed package. */
function linkDependency(project: string, name: string): void {
  const source = join(REPO_ROOT, 'node_modules', name);
  if (!existsSync(source)) throw new Error(`${name} is not installed in the repository; cannot link it`);
  const target = join(project, 'node_modules', name);
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(source, target, 'dir');
}

function makeProject(name: string): string {
  const project = join(work, name);
  mkdirSync(join(project, 'node_modules', manifest.name), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module' }));
  return project;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'nestjs-push-stream-pack-'));
  const pkg = join(work, 'package');
  mkdirSync(pkg);
  // Everything the build script or `files` might use; not the checkout's outputs, tests or apps.
  const skip = new Set(['node_modules', 'dist', '.git', 'coverage', 'test-results', '.tmp', 'test', 'sample-app', 'bench']);
  for (const entry of readdirSync(REPO_ROOT)) {
    if (!skip.has(entry)) cpSync(join(REPO_ROOT, entry), join(pkg, entry), { recursive: true });
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');

  await npmRunBuild(pkg);
  packed = (JSON.parse(await npm(['pack', '--dry-run', '--json'], pkg)) as PackResult[])[0];
  const tarballDir = join(work, 'tarball');
  mkdirSync(tarballDir);
  const real = (JSON.parse(await npm(['pack', '--json', '--pack-destination', tarballDir], pkg)) as PackResult[])[0];
  const tarball = join(tarballDir, real.filename);
  manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as Manifest;

  // Installed from the tarball (npm would do the same, minus the network): extract it, then link
  // exactly the dependencies the manifest declares, so an undeclared import fails here.
  const install = async (name: string, withOptionalPeers: boolean): Promise<string> => {
    const project = makeProject(name);
    await run('tar', ['-xzf', tarball, '-C', join(project, 'node_modules', manifest.name), '--strip-components=1']);
    const optional = (dep: string) => manifest.peerDependenciesMeta?.[dep]?.optional === true;
    const deps = [
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}).filter((dep) => withOptionalPeers || !optional(dep)),
    ];
    for (const dep of deps) linkDependency(project, dep);
    return project;
  };
  minimal = await install('minimal', false);
  full = await install('full', true);
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs an ES module snippet in a separate Node process inside `project`; returns its JSON output. */
async function evaluate(project: string, code: string): Promise<unknown> {
  const { code: exit, stdout, stderr } = await runNode(['--input-type=module', '-e', code], { cwd: project });
  if (exit !== 0) throw new Error(`node exited with ${exit}:\n${stderr}`);
  return JSON.parse(stdout);
}

describe('npm pack', () => {
  const paths = () => packed.files.map((f) => f.path);

  it('ships the compiled entry points, the CLI and the nginx templates', () => {
    expect(paths()).toEqual(
      expect.arrayContaining([
        'package.json',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/auth-listener/index.js',
        'dist/cli/main.js',
        'dist/http/axios-http-client.js',
        'dist/config/index.js',
        'dist/metrics/index.js',
        'dist/terminus/index.js',
        'dist/testing/index.js',
        'nginx/nginx.conf.template',
        'nginx/nchan.conf.template',
        'nginx/push-stream.conf.template',
        'nginx/nginx-tools.mjs',
        'nginx/nginx-tools.d.mts',
      ]),
    );
  });

  it('ships the browser client with its sibling modules', () => {
    expect(paths()).toEqual(
      expect.arrayContaining(['dist/browser/push-stream-client.js', 'dist/browser/push-stream-client.d.ts', 'dist/browser/decode-message.js']),
    );
  });

  it('ships every file that package.json exports and bin point to', () => {
    const targets = Object.values(manifest.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)));
    const wanted = [...targets, ...Object.values(manifest.bin)]
      .map((t) => t.replace(/^\.\//, ''));
    expect(wanted.filter((t) => !paths().includes(t))).toEqual([]);
  });

  it('leaves sources, tests and specs out', () => {
    expect(paths().filter((p) => /^(lib|test|bench|sample-app|node_modules)\//.test(p) || /\.spec\.(js|ts)$/.test(p))).toEqual([]);
  });

  it('the bin starts with a node shebang', () => {
    const cli = readFileSync(join(minimal, 'node_modules', manifest.name, 'dist', 'cli', 'main.js'), 'utf8');
    expect(cli.split('\n')[0]).toBe('#!/usr/bin/env node');
  });
});

describe('the installed package in a separate Node process', () => {
  /** The runtime names of an entry point as the installed package gives them. */
  const namesOf = async (project: string, entry: string) =>
    (await evaluate(
      project,
      `const m = await import(${JSON.stringify(entry === '.' ? manifest.name : `${manifest.name}/${entry.slice(2)}`)}); console.log(JSON.stringify(Object.keys(m).sort()));`,
    )) as string[];

  it('exports exactly the reviewed public API (test/unit/public-api.expected.ts) from every entry point', async () => {
    // The main, auth listener, browser and testing entries load without the optional peers installed.
    for (const entry of ['.', './auth-listener', './browser', './testing']) {
      expect({ entry, names: await namesOf(minimal, entry) }).toEqual({ entry, names: [...PUBLIC_API[entry]].sort() });
    }
    // Each optional peer (@nestjs/axios, @nestjs/config, prom-client, @nestjs/terminus) is needed by its own entry only.
    for (const entry of ['./axios', './config', './metrics', './terminus']) {
      expect({ entry, names: await namesOf(full, entry) }).toEqual({ entry, names: [...PUBLIC_API[entry]].sort() });
    }
    expect(Object.keys(manifest.exports).filter((k) => k !== './package.json').sort()).toEqual(Object.keys(PUBLIC_API).sort());
    // The axios transport lives behind its own entry point so @nestjs/axios stays optional.
    expect(PUBLIC_API['.']).not.toContain('AxiosHttpClient');
  });

  it('starts PushStreamModule in a Nest application context (decorator metadata survived the build)', async () => {
    const result = await evaluate(
      minimal,
      `
      import { NestFactory } from '@nestjs/core';
      import { PushStreamModule, PushStreamService, PushStreamHttpClient, UndiciHttpClient, PushStreamConfigError } from 'nestjs-push-stream';
      const app = await NestFactory.createApplicationContext(
        PushStreamModule.forRoot({ server: 'nchan', publisherUrl: 'http://127.0.0.1:9/pub', secret: '0123456789abcdef', authRoute: false }),
        { logger: false, abortOnError: false },
      );
      const service = app.get(PushStreamService);
      const out = { all: service.channels.all(), server: service.server, undici: app.get(PushStreamHttpClient) instanceof UndiciHttpClient };
      await app.close();
      // Named as the transport, with undici pool options: constructed by Nest.
      const named = await NestFactory.createApplicationContext(
        PushStreamModule.forRoot({ publisherUrl: 'http://127.0.0.1:9/pub', secret: '0123456789abcdef', authRoute: false, httpClient: UndiciHttpClient, undici: { connections: 4 } }),
        { logger: false, abortOnError: false },
      );
      out.named = named.get(PushStreamHttpClient) instanceof UndiciHttpClient;
      await named.close();
      const bad = await NestFactory.createApplicationContext(
        PushStreamModule.forRoot({ publisherUrl: 'ftp://x', secret: '0123456789abcdef', authRoute: false }),
        { logger: false, abortOnError: false },
      ).catch((e) => e);
      out.configError = bad instanceof PushStreamConfigError ? bad.field : String(bad);
      console.log(JSON.stringify(out));
      `,
    );
    expect(result).toEqual({ all: 'my-app__all__', server: 'nchan', undici: true, named: true, configError: 'publisherUrl' });
  });

  it('"nestjs-push-stream/testing" finds the shipped nginx templates', async () => {
    const result = await evaluate(
      minimal,
      `
      import { existsSync } from 'node:fs';
      import { join } from 'node:path';
      const t = await import('nestjs-push-stream/testing');
      console.log(JSON.stringify({
        NginxTestServer: typeof t.NginxTestServer,
        insidePackage: t.NGINX_CONFIG_DIR.includes('node_modules/nestjs-push-stream/nginx'),
        templates: ['nginx.conf.template', 'nchan.conf.template', 'push-stream.conf.template'].every((f) => existsSync(join(t.NGINX_CONFIG_DIR, f))),
      }));
      `,
    );
    expect(result).toEqual({ NginxTestServer: 'function', insidePackage: true, templates: true });
  });

  it('"nestjs-push-stream/testing" records publishes in memory, with nothing but the required peers', async () => {
    const result = await evaluate(
      minimal,
      `
      import { NestFactory } from '@nestjs/core';
      import { PushStreamService } from 'nestjs-push-stream';
      import { PushStreamRecorder, PushStreamTestingModule, pushStreamMatchers } from 'nestjs-push-stream/testing';
      const app = await NestFactory.createApplicationContext(PushStreamTestingModule.forRoot({ server: 'nchan' }), { logger: false, abortOnError: false });
      const push = app.get(PushStreamService);
      await push.publish(push.channels.all(), { hello: 'world' }, { eventType: 'greeting' });
      const recorder = app.get(PushStreamRecorder);
      const ctx = { equals: (a, b) => JSON.stringify(a) === JSON.stringify(b), utils: { printExpected: String, printReceived: String } };
      const matched = pushStreamMatchers.toHavePublished.call(ctx, recorder, 'my-app__all__', { hello: 'world' }).pass;
      await app.close();
      console.log(JSON.stringify({ publishes: recorder.publishes, matched }));
      `,
    );
    expect(result).toEqual({
      publishes: [
        {
          channel: 'my-app__all__',
          data: { hello: 'world' },
          eventType: 'greeting',
          channels: ['my-app__all__'],
          publisherUrl: 'http://push-stream.test/pub',
        },
      ],
      matched: true,
    });
  });

  it('the bin builds (or finds in its cache) the Push Stream Module: npx nestjs-push-stream build-module', async () => {
    const cli = join(minimal, 'node_modules', manifest.name, 'dist', 'cli', 'main.js');
    const { code, stdout, stderr } = await runNode([cli, 'build-module'], { cwd: minimal, boundMs: 120_000 });
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout.trim()).toMatch(/\/push-stream-0\.6\.0-nginx-[\d.]+-\w+\/ngx_http_push_stream_module\.so$/);
    expect(existsSync(stdout.trim())).toBe(true);
  }, 150_000);

  it('"nestjs-push-stream/browser" loads as a plain ES module with no dependencies', async () => {
    const result = await evaluate(
      minimal,
      `
      const b = await import('nestjs-push-stream/browser');
      console.log(JSON.stringify({ client: typeof b.PushStreamClient, decode: typeof b.decodeNchanMessage }));
      `,
    );
    expect(result).toEqual({ client: 'function', decode: 'function' });
  });

  it('"nestjs-push-stream/axios" wires AxiosHttpClient through HttpModule', async () => {
    const result = await evaluate(
      full,
      `
      import { NestFactory } from '@nestjs/core';
      import { HttpModule } from '@nestjs/axios';
      import { PushStreamModule, PushStreamHttpClient } from 'nestjs-push-stream';
      import { AxiosHttpClient } from 'nestjs-push-stream/axios';
      const app = await NestFactory.createApplicationContext(
        PushStreamModule.forRootAsync({
          imports: [HttpModule.register({})],
          useFactory: () => ({ publisherUrl: 'http://127.0.0.1:9/pub', secret: '0123456789abcdef' }),
          httpClient: AxiosHttpClient,
          authRoute: false,
        }),
        { logger: false, abortOnError: false },
      );
      const axios = app.get(PushStreamHttpClient) instanceof AxiosHttpClient;
      await app.close();
      console.log(JSON.stringify({ axios }));
      `,
    );
    expect(result).toEqual({ axios: true });
  });

  it('"nestjs-push-stream/config" registers the pushStream namespace from the environment', async () => {
    const { code, stdout, stderr } = await runNode(
      [
        '--input-type=module',
        '-e',
        `
        const { pushStreamConfig } = await import('nestjs-push-stream/config');
        console.log(JSON.stringify({ key: pushStreamConfig.KEY, prefix: pushStreamConfig().prefix }));
        `,
      ],
      { cwd: full, env: { ...process.env, NGINX_PUSH_STREAM_SECRET: '0123456789abcdef', NGINX_PUSH_STREAM_PUB_PREFIX: 'packed' } },
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({ key: 'CONFIGURATION(pushStream)', prefix: 'packed' });
  });

  it('type-checks a TypeScript consumer of every entry point (exports "types" resolve under NodeNext)', async () => {
    writeFileSync(
      join(full, 'consumer.ts'),
      `
      import { PushStreamModule, PushStreamService, PushStreamHttpClient, UndiciHttpClient, type PushStreamModuleOptions, type PushStreamServerKind, type PublishResult } from 'nestjs-push-stream';
      // @ts-expect-error: internal helpers are not part of the public API.
      import { withRetry } from 'nestjs-push-stream';
      import { AxiosHttpClient } from 'nestjs-push-stream/axios';
      import { pushStreamConfig } from 'nestjs-push-stream/config';
      import { NginxTestServer, PushStreamRecorder, PushStreamTestingModule, pushStreamMatchers, type RecordedPublish } from 'nestjs-push-stream/testing';
      import { PushStreamClient, type PushStreamMessage } from 'nestjs-push-stream/browser';
      export const client = new PushStreamClient({ server: 'nchan', channels: ['my-app__all__'], url: 'http://127.0.0.1:9' });
      client.addEventListener('message', (e) => { const m: PushStreamMessage = e.detail; void m.channel; });
      const options: PushStreamModuleOptions = { publisherUrl: 'http://127.0.0.1:9/pub', secret: '0123456789abcdef' };
      export const mod = PushStreamModule.forRoot({ ...options, httpClient: AxiosHttpClient });
      export const pooled = PushStreamModule.forRoot({ ...options, httpClient: UndiciHttpClient, undici: { connections: 64 } });
      export const testing = PushStreamTestingModule.forRoot({ server: 'nchan' });
      export const server = (service: PushStreamService): PushStreamServerKind => service.server;
      export const firstChannel = (recorder: PushStreamRecorder): string | undefined => recorder.publishes.map((p: RecordedPublish) => p.channel)[0];
      export class FakeClient extends PushStreamHttpClient {
        async request() { return { status: 200, headers: {}, body: '{}' }; }
      }
      export async function send(service: PushStreamService): Promise<number> {
        const result: PublishResult = await service.publish(service.channels.all(), { message: ['Foobar'] });
        return result.subscribers;
      }
      export const used = [PushStreamHttpClient, pushStreamConfig.KEY, NginxTestServer.start, pushStreamMatchers.toHavePublished, withRetry];
      // @ts-expect-error: a wrong option type must be a type error, or the types are any.
      export const wrong: PushStreamModuleOptions = { publisherUrl: 1, secret: '0123456789abcdef' };
      `,
    );
    writeFileSync(
      join(full, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const { code, stdout, stderr } = await runNode([tsc, '-p', 'tsconfig.json'], { cwd: full, boundMs: 120_000 });
    expect({ code, output: stdout + stderr }).toEqual({ code: 0, output: '' });
  }, 120_000);

  it('the bin runs from the installed package', async () => {
    const cli = join(minimal, 'node_modules', manifest.name, manifest.bin['nestjs-push-stream']);
    const help = await runNode([cli, '--help'], { cwd: minimal });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('nestjs-push-stream publish -q <channel suffix>');

    // Runs as far as option validation, which needs no nginx: a weak secret is named.
    const env: NodeJS.ProcessEnv = { ...process.env, NGINX_PUSH_STREAM_SECRET: 'short' };
    const weak = await runNode([cli, 'publish', '-q', '__all__', '-d', '{}'], { cwd: minimal, env });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('NGINX_PUSH_STREAM_SECRET');
  });
});
