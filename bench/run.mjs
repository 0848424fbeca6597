#!/usr/bin/env node
// Runs the benchmark paths one after the other, each in its own process, then prints the targets.
//
//   npm run bench                     build, then P1, P2 and P3 at full size (about 15 minutes)
//   npm run bench -- p2               build, then one path (p1 | p2 | p3, several allowed)
//   npm run bench -- --quick          small sizes, results in a temporary folder (a smoke test)
//   node bench/run.mjs p3 --sizes 1000 --rounds 1     when dist/ is already built
//
// Other arguments are passed to every path: --rounds N, --servers nchan,push-stream, --out DIR,
// --sizes LIST (P3). Exit code: 0 every target met, 1 a target missed, 2 a path failed to run.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BENCH_DIR, cleanupAll, fmtRatio, libDir, parseArgs, resultsDir } from './lib/common.mjs';

const SCRIPTS = { p1: 'p1-publish.mjs', p2: 'p2-auth.mjs', p3: 'p3-fanout.mjs' };

const argv = process.argv.slice(2);
const args = parseArgs(argv);
const paths = args.paths.length ? [...new Set(args.paths)] : ['p1', 'p2', 'p3'];
const passThrough = argv.filter((a) => !/^p[123]$/i.test(a));

let current;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    // The path cleans up its own nginx, redis and children on the signal; wait for it.
    if (current && current.exitCode === null) current.kill(sig);
    else cleanupAll().finally(() => process.exit(130));
  });
}

function runPath(p) {
  return new Promise((resolve) => {
    console.log(`\n######## ${p.toUpperCase()} (${SCRIPTS[p]} ${passThrough.join(' ')})\n`);
    current = spawn(process.execPath, [join(BENCH_DIR, SCRIPTS[p]), ...passThrough], { stdio: 'inherit' });
    current.on('exit', (code, signal) => resolve(signal ? 2 : (code ?? 2)));
  });
}

// One snapshot of dist/ for every path of this run (see libDir in lib/common.mjs).
await libDir();
const codes = {};
const started = Date.now();
for (const p of paths) {
  codes[p] = await runPath(p);
  if (codes[p] === 130) break;
}

const out = resultsDir(args);
let summary;
try {
  summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
} catch {
  summary = null;
}
console.log(`\n######## SUMMARY (${Math.round((Date.now() - started) / 1000)} s)`);
for (const [p, code] of Object.entries(codes)) {
  console.log(`  ${p}: ${code === 0 ? 'all targets met' : code === 1 ? 'a target missed' : `did not complete (exit ${code})`}`);
}
if (summary) {
  // Only paths that completed in this run: an older results file of an interrupted path is not news.
  for (const t of summary.targets.filter((x) => codes[x.path] === 0 || codes[x.path] === 1)) {
    console.log(`  ${t.status.padEnd(12)} ${t.path.toUpperCase()} ${t.description.padEnd(70)} ${t.value ? fmtRatio(t.value) : ''} (needs ${t.op} ${t.threshold})`);
  }
  console.log(`\nresults, charts and summary: ${out}`);
}
await cleanupAll();
process.exitCode = Object.values(codes).some((c) => c !== 0 && c !== 1) ? 2 : Object.values(codes).some((c) => c === 1) ? 1 : 0;
