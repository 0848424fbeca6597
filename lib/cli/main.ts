#!/usr/bin/env node
// The package's bin: `nestjs-push-stream publish -q __all__ -d '{"message": ["Foobar"]}'`.
import { runCli } from './publish-command.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const code = await runCli(process.argv.slice(2), process.env, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin,
});
// exitCode rather than exit(): lets stdout drain when it is a pipe. The Nest context and the
// undici pool are closed by then, so nothing keeps the event loop alive.
process.exitCode = code;
