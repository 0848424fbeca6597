// Finding nginx and its pub/sub modules, and building the Push Stream Module for it.
//
// Plain JavaScript with no dependencies: `npm test`'s pretest and `npm run demo` use it before the
// package is compiled, and `nestjs-push-stream/testing` and the CLI use the same file from dist/.
// Run directly, it builds the module and prints its path:
//
//   node node_modules/nestjs-push-stream/nginx/nginx-tools.mjs build-push-stream-module
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The module version the tests, the demo and the Docker image use: its last tag. */
export const PUSH_STREAM_MODULE_VERSION = '0.6.0';
export const PUSH_STREAM_MODULE_FILE = 'ngx_http_push_stream_module.so';
export const NCHAN_MODULE_FILE = 'ngx_nchan_module.so';
/** njs, which checks signed subscription tickets (`auth: ticket`): Debian's libnginx-mod-http-js. */
export const JS_MODULE_FILE = 'ngx_http_js_module.so';
export const APT_JS_PACKAGE = 'libnginx-mod-http-js';

/** Pinned sources: a download must match, or the build stops. Add a release here to support it. */
const SOURCES = {
  module: {
    file: `nginx-push-stream-module-${PUSH_STREAM_MODULE_VERSION}.tar.gz`,
    url: `https://github.com/wandenberg/nginx-push-stream-module/archive/refs/tags/${PUSH_STREAM_MODULE_VERSION}.tar.gz`,
    sha256: '0d16ca644651e81cc76ab4d81f17d712e728d5be683558fbcccab5c0e4845dd9',
  },
  nginx: {
    '1.22.1': '9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31',
  },
};

const MODULE_DIRS = ['/usr/lib/nginx/modules', '/usr/share/nginx/modules', '/usr/local/nginx/modules', '/etc/nginx/modules'];
// A regular user's PATH on Debian has no /usr/sbin, where the nginx package puts its binary.
const NGINX_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin', '/usr/bin', '/usr/local/bin'];
export const APT_NGINX_PACKAGES = ['nginx', 'libnginx-mod-nchan'];
export const APT_BUILD_PACKAGES = ['build-essential', 'libpcre3-dev', 'zlib1g-dev', 'libssl-dev'];
const BUILD_HEADERS = ['/usr/include/pcre.h', '/usr/include/zlib.h', '/usr/include/openssl/ssl.h'];

/** This package's root (this file is nginx/nginx-tools.mjs). */
const PACKAGE_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

export class NginxToolsError extends Error {
  constructor(message) {
    super(message);
    this.name = 'NginxToolsError';
  }
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = () => existsSync('/usr/bin/apt-get');
const commandExists = (name) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;

/** The `apt-get` line that installs `packages`. */
export function aptCommand(packages) {
  return `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

/** The nginx binary: `NGINX_BINARY`, then the PATH, then the usual sbin folders. */
export function findNginx(env = process.env) {
  if (env.NGINX_BINARY) return existsSync(env.NGINX_BINARY) ? env.NGINX_BINARY : undefined;
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...NGINX_DIRS];
  return dirs.map((d) => join(d, 'nginx')).find((p) => existsSync(p));
}

/** `nginx -V` output (nginx prints it on stderr), or '' when the binary does not run. */
export function nginxBuildInfo(binary) {
  const result = spawnSync(binary, ['-V'], { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

/** `1.22.1` from `nginx -v`, or undefined. */
export function nginxVersion(binary) {
  return /nginx\/(\d+\.\d+\.\d+)/.exec(nginxBuildInfo(binary))?.[1];
}

/** Where built modules are kept: `NESTJS_PUSH_STREAM_CACHE`, else the user's cache folder. */
export function moduleCacheDir(env = process.env) {
  if (env.NESTJS_PUSH_STREAM_CACHE) return resolve(env.NESTJS_PUSH_STREAM_CACHE);
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'nestjs-push-stream');
}

/** The cached module's path for this nginx version (it may not exist yet). */
export function cachedPushStreamModule(version, env = process.env) {
  return join(moduleCacheDir(env), `push-stream-${PUSH_STREAM_MODULE_VERSION}-nginx-${version}-${process.arch}`, PUSH_STREAM_MODULE_FILE);
}

/**
 * How nginx gets `server`'s module: `{ loadModule: '' }` when compiled in, `{ loadModule: path }`
 * for a dynamic one, or `{ missing: why }`. Push-stream: `NGINX_PUSH_STREAM_MODULE`, compiled in,
 * the system's module folders, then this package's build cache.
 */
export function locateModule(server, binary, env = process.env) {
  const info = nginxBuildInfo(binary);
  if (!info) return { missing: `${binary} does not run` };
  if (server === 'nchan') {
    if (/nchan/i.test(info)) return { loadModule: '' };
    const found = MODULE_DIRS.map((d) => join(d, NCHAN_MODULE_FILE)).find((p) => existsSync(p));
    return found ? { loadModule: found } : { missing: `nginx has no Nchan module: install it with ${aptCommand(APT_NGINX_PACKAGES)}` };
  }
  if (env.NGINX_PUSH_STREAM_MODULE) {
    return existsSync(env.NGINX_PUSH_STREAM_MODULE)
      ? { loadModule: resolve(env.NGINX_PUSH_STREAM_MODULE) }
      : { missing: `NGINX_PUSH_STREAM_MODULE=${env.NGINX_PUSH_STREAM_MODULE}: no such file` };
  }
  if (/push-stream|push_stream/i.test(info)) return { loadModule: '' };
  const system = MODULE_DIRS.map((d) => join(d, PUSH_STREAM_MODULE_FILE)).find((p) => existsSync(p));
  if (system) return { loadModule: system };
  const version = nginxVersion(binary);
  const cached = version && cachedPushStreamModule(version, env);
  if (cached && existsSync(cached)) return { loadModule: cached };
  return {
    missing:
      `nginx ${version ?? ''} has no Push Stream Module. Build it for this nginx (about 10 s, cached) with:\n` +
      '  npx nestjs-push-stream build-module\n' +
      'or point NGINX_PUSH_STREAM_MODULE at an ngx_http_push_stream_module.so built for it',
  };
}

/**
 * How nginx gets njs (ngx_http_js_module), which the ticket mode's config needs: `{ loadModule: '' }`
 * when compiled in, `{ loadModule: path }`, or `{ missing: why }`.
 */
export function locateJsModule(binary, env = process.env) {
  const info = nginxBuildInfo(binary);
  if (!info) return { missing: `${binary} does not run` };
  if (env.NGINX_JS_MODULE) {
    return existsSync(env.NGINX_JS_MODULE) ? { loadModule: resolve(env.NGINX_JS_MODULE) } : { missing: `NGINX_JS_MODULE=${env.NGINX_JS_MODULE}: no such file` };
  }
  if (/--add-module=\S*njs/.test(info)) return { loadModule: '' };
  const found = MODULE_DIRS.map((d) => join(d, JS_MODULE_FILE)).find((p) => existsSync(p));
  return found
    ? { loadModule: found }
    : { missing: `nginx has no njs module (${JS_MODULE_FILE}), which checks signed tickets: install the Debian package ${APT_JS_PACKAGE} with ${aptCommand([APT_JS_PACKAGE])}` };
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A source tarball: from a vendor folder when it has it, else downloaded into the cache. Checked either way. */
async function sourceTarball(name, url, expected, vendorDirs, downloadDir, log) {
  const local = vendorDirs.map((d) => join(d, name)).find((p) => existsSync(p));
  const file = local ?? join(downloadDir, name);
  if (!local && !existsSync(file)) {
    log(`downloading ${url}`);
    let response;
    try {
      response = await fetch(url, { redirect: 'follow' });
    } catch (err) {
      throw new NginxToolsError(`download of ${url} failed (${err.cause?.message ?? err.message}). Put ${name} in NESTJS_PUSH_STREAM_VENDOR=<folder> to build offline.`);
    }
    if (!response.ok) throw new NginxToolsError(`download of ${url} failed: HTTP ${response.status}`);
    const partial = `${file}.part`;
    writeFileSync(partial, Buffer.from(await response.arrayBuffer()));
    renameSync(partial, file);
  }
  const actual = sha256(file);
  if (actual !== expected) {
    if (!local) rmSync(file, { force: true });
    throw new NginxToolsError(`${file}: sha256 is ${actual}, expected ${expected}; refusing to build from it`);
  }
  return file;
}

function step(what, command, args, options) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
    throw new NginxToolsError(`${what} failed (${command} ${args.join(' ')}):\n${output || result.error?.message}`);
  }
  return result;
}

/** Installs the C toolchain and headers with apt-get as root; otherwise says what to run. */
function ensureBuildTools(log, env) {
  const missing = () => !commandExists('cc') || !commandExists('make') || BUILD_HEADERS.some((h) => !existsSync(h));
  if (!missing()) return;
  const command = aptCommand(APT_BUILD_PACKAGES);
  if (isRoot() && hasApt()) {
    log(`installing build tools: ${command}`);
    step('installing the build tools', 'sh', ['-c', command], { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: 'inherit' });
    if (!missing()) return;
  }
  throw new NginxToolsError(
    `building the Push Stream Module needs a C compiler, make and the pcre, zlib and OpenSSL headers. Install them with:\n  sudo sh -c '${command}'`,
  );
}

/**
 * Builds `ngx_http_push_stream_module.so` for the installed nginx and returns its path. Cached by
 * nginx version + module version, so a second call costs nothing. Sources come from
 * `NESTJS_PUSH_STREAM_VENDOR`, the project's `../shared/vendor/`, or their upstreams.
 */
export async function buildPushStreamModule({ binary = findNginx(), env = process.env, log = () => undefined } = {}) {
  if (!binary) throw new NginxToolsError(`nginx is not installed: ${aptCommand(['nginx'])}`);
  const version = nginxVersion(binary);
  if (!version) throw new NginxToolsError(`could not read the version of ${binary} (nginx -v)`);
  const target = cachedPushStreamModule(version, env);
  if (existsSync(target)) return target;

  const nginxSha = env.NGINX_SOURCE_SHA256 || SOURCES.nginx[version];
  if (!nginxSha) {
    throw new NginxToolsError(
      `no pinned sha256 for nginx ${version}'s source. Check nginx-${version}.tar.gz yourself (nginx.org publishes signatures) and set NGINX_SOURCE_SHA256=<its sha256>`,
    );
  }
  ensureBuildTools(log, env);
  const cacheDir = moduleCacheDir(env);
  const downloads = join(cacheDir, 'downloads');
  mkdirSync(downloads, { recursive: true });
  const vendorDirs = [env.NESTJS_PUSH_STREAM_VENDOR, join(PACKAGE_ROOT, '..', 'shared', 'vendor'), join(process.cwd(), '..', 'shared', 'vendor')].filter(Boolean);
  const nginxTar = await sourceTarball(`nginx-${version}.tar.gz`, `https://nginx.org/download/nginx-${version}.tar.gz`, nginxSha, vendorDirs, downloads, log);
  const moduleTar = await sourceTarball(SOURCES.module.file, SOURCES.module.url, SOURCES.module.sha256, vendorDirs, downloads, log);

  const work = mkdtempSync(join(tmpdir(), 'push-stream-module-build-'));
  try {
    log(`building the Push Stream Module ${PUSH_STREAM_MODULE_VERSION} for nginx ${version} (from ${dirname(nginxTar)})`);
    step('unpacking the nginx source', 'tar', ['xzf', nginxTar, '-C', work]);
    step('unpacking the module source', 'tar', ['xzf', moduleTar, '-C', work]);
    const moduleSrc = join(work, `nginx-push-stream-module-${PUSH_STREAM_MODULE_VERSION}`);
    const nginxSrc = join(work, `nginx-${version}`);
    // --with-compat: the .so loads into the distribution's own nginx of the same version.
    step('configure', './configure', ['--with-compat', `--add-dynamic-module=${moduleSrc}`], { cwd: nginxSrc });
    step('make modules', 'make', ['-j2', 'modules'], { cwd: nginxSrc });
    const built = join(nginxSrc, 'objs', PUSH_STREAM_MODULE_FILE);
    checkLoads(binary, built, work);
    mkdirSync(dirname(target), { recursive: true });
    const partial = `${target}.${process.pid}.part`;
    copyFileSync(built, partial);
    renameSync(partial, target); // atomic: a concurrent reader sees the whole file or none
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  log(`built ${target}`);
  return target;
}

/** `nginx -t` with the module loaded: proves the binary interface matches before it is cached. */
function checkLoads(binary, modulePath, work) {
  const conf = join(work, 'check.conf');
  writeFileSync(conf, `load_module ${modulePath};\npid check.pid;\nerror_log stderr;\nevents {}\nhttp { push_stream_shared_memory_size 1m; }\n`);
  step('loading the built module into nginx (nginx -t)', binary, ['-t', '-q', '-p', work, '-c', conf]);
}

// Run directly: `node nginx/nginx-tools.mjs build-push-stream-module` prints the module's path.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command] = process.argv.slice(2);
  if (command !== 'build-push-stream-module') {
    process.stderr.write('usage: node nginx-tools.mjs build-push-stream-module\n');
    process.exit(2);
  }
  try {
    process.stdout.write(`${await buildPushStreamModule({ log: (line) => process.stderr.write(`${line}\n`) })}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof NginxToolsError ? err.message : err.stack}\n`);
    process.exit(1);
  }
}
