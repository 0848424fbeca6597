#!/usr/bin/env node
// The package's bin: `nestjs-push-stream publish -q __all__ -d '{"message": ["Foobar"]}'`, and
// `nestjs-push-stream build-module` for the Push Stream Module, `nestjs-push-stream nginx-config`
// for a configuration rendered from the shipped templates.
import { runCli } from './publish-command.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const io = {
  stdout: (text: string) => void process.stdout.write(text),
  stderr: (text: string) => void process.stderr.write(text),
  readStdin,
};
const [command, ...rest] = process.argv.slice(2);
// Each command is loaded only when asked for, so publishing does not pay for the others.
const code =
  command === 'build-module'
    ? await (await import('./build-module-command.js')).runBuildModule(rest, process.env, io)
    : command === 'nginx-config'
      ? await (await import('./nginx-config-command.js')).runNginxConfig(rest, process.env, io)
      : await runCli(process.argv.slice(2), process.env, io);
// exitCode rather than exit(): lets stdout drain when it is a pipe. The Nest context and the
// undici pool are closed by then, so nothing keeps the event loop alive.
process.exitCode = code;
