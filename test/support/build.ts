import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (this file is test/support/build.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Whether dist/ is missing or older than a source file under lib/ (or a tsconfig). */
export function distIsStale(root = REPO_ROOT): boolean {
  const marker = join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(marker) || !existsSync(join(root, 'dist', 'index.js'))) return true;
  const built = statSync(marker).mtimeMs;
  const sources = Math.max(
    newestMtime(join(root, 'lib')),
    statSync(join(root, 'tsconfig.json')).mtimeMs,
    statSync(join(root, 'tsconfig.build.json')).mtimeMs,
  );
  return sources > built;
}

/** `npm run build` in `root`; throws with tsc's output when it fails. */
export async function npmRunBuild(root = REPO_ROOT): Promise<void> {
  try {
    await run('npm', ['run', 'build'], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`npm run build failed in ${root}:\n${stdout}\n${stderr}`);
  }
}

/** Builds the package unless dist/ is up to date. */
export async function ensureBuilt(root = REPO_ROOT): Promise<void> {
  if (distIsStale(root)) await npmRunBuild(root);
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node <args>` as a child process and collects its output. `boundMs` kills a hung child
 * so the test fails with its output instead of hanging; it is not a timing assertion.
 */
export function runNode(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; boundMs?: number; input?: string } = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (options.input !== undefined) child.stdin?.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.boundMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
