import { buildPushStreamModule, NginxToolsError } from '../../nginx/nginx-tools.mjs';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from './publish-command.js';

export const BUILD_MODULE_USAGE = `Usage: nestjs-push-stream build-module

Builds the Nginx Push Stream Module as a dynamic module (ngx_http_push_stream_module.so) for the
nginx installed on this machine, and prints its path for a "load_module <path>;" line.

  - sources: NESTJS_PUSH_STREAM_VENDOR=<folder> when it holds the tarballs, else downloaded from
    nginx.org (the release matching "nginx -v") and GitHub (module tag), checked against pinned sha256
  - build tools (C compiler, make, pcre/zlib/OpenSSL headers) are installed with apt-get when run as
    root on Debian/Ubuntu; otherwise the exact command to run is printed
  - cached in NESTJS_PUSH_STREAM_CACHE (default ~/.cache/nestjs-push-stream) by nginx and module
    version: a second run costs nothing. NGINX_BINARY picks another nginx.
`;

/** `nestjs-push-stream build-module`: exit 0 with the .so path on stdout, 1 with the failed step. */
export async function runBuildModule(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: CliIo,
  build: typeof buildPushStreamModule = buildPushStreamModule,
): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    io.stdout(BUILD_MODULE_USAGE);
    return EXIT_OK;
  }
  if (argv.length > 0) {
    io.stderr(`nestjs-push-stream: build-module takes no arguments, got ${JSON.stringify(argv[0])}\n`);
    return EXIT_USAGE;
  }
  try {
    io.stdout(`${await build({ env, log: (line) => io.stderr(`${line}\n`) })}\n`);
    return EXIT_OK;
  } catch (err) {
    io.stderr(`nestjs-push-stream: build-module: ${err instanceof NginxToolsError ? err.message : String(err)}\n`);
    return EXIT_FAILURE;
  }
}
