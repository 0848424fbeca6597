#!/usr/bin/env node
// Where a Node process spent its CPU: a .cpuprofile (node --cpu-prof) summed by self time, per
// package (node_modules/<name>, the library as `nestjs-push-stream`, Node's own `node:`), per
// function, and by inclusive time for a few functions of interest.
//
//   node bench/lib/cpu-profile-summary.mjs <file.cpuprofile> [--top 25] [--focus name,name]
//
// P2 writes profiles of its apps with BENCH_P2_CPU_PROF=DIR (bench/README.md, P2).
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const file = argv[0]?.startsWith('--') ? undefined : argv[0];
if (!file) {
  console.error('usage: cpu-profile-summary.mjs <file.cpuprofile> [--top N] [--focus fn,fn]');
  process.exit(2);
}
const top = Number(argv[argv.indexOf('--top') + 1]) || 25;
const focus = argv.includes('--focus') ? argv[argv.indexOf('--focus') + 1].split(',') : [];

const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node: each sample's time delta belongs to the node sampled.
const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);

function where(url) {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return 'node: (core)';
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  if (/\/(dist|lib|\.snap-\d+|bench-lib)\//.test(url) && !url.includes('/bench/')) return 'nestjs-push-stream';
  if (url.includes('/bench/')) return 'bench app';
  return url;
}
const special = (name) => ['(garbage collector)', '(idle)', '(program)', '(root)'].includes(name);

const perPackage = new Map();
const perFunction = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  const name = n.callFrame.functionName || '(anonymous)';
  const pkg = special(name) ? name : where(n.callFrame.url);
  perPackage.set(pkg, (perPackage.get(pkg) ?? 0) + t);
  const key = `${name} ${pkg}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
  perFunction.set(key, (perFunction.get(key) ?? 0) + t);
}

// Inclusive time of the focused functions: a sample counts once if any ancestor matches.
const inclusive = new Map(focus.map((f) => [f, 0]));
if (focus.length) {
  for (const [id, t] of self) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const name = byId.get(cur).callFrame.functionName;
      if (inclusive.has(name) && !seen.has(name)) {
        seen.add(name);
        inclusive.set(name, inclusive.get(name) + t);
      }
    }
  }
}

// Inclusive time per package: a sample counts for every package on its stack (they overlap).
const inclusivePackage = new Map();
for (const [id, t] of self) {
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const frame = byId.get(cur).callFrame;
    if (special(frame.functionName) || !frame.url) continue;
    const pkg = where(frame.url);
    if (pkg === 'node: (core)' || seen.has(pkg)) continue;
    seen.add(pkg);
    inclusivePackage.set(pkg, (inclusivePackage.get(pkg) ?? 0) + t);
  }
}

const busy = total - (perPackage.get('(idle)') ?? 0);
const pct = (t, of = busy) => `${((100 * t) / of).toFixed(1).padStart(5)} %`;
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s not idle (percentages of the latter)`);
console.log('\nself time by package:');
for (const [k, t] of [...perPackage].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(t)}  ${k}`);
console.log('\ninclusive time by package (the package and what it calls; packages overlap):');
for (const [k, t] of [...inclusivePackage].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(t)}  ${k}`);
console.log('\nself time by function:');
for (const [k, t] of [...perFunction].sort((a, b) => b[1] - a[1]).filter(([k]) => !k.startsWith('(idle)')).slice(0, top)) console.log(`  ${pct(t)}  ${k}`);
if (focus.length) {
  console.log('\ninclusive time:');
  for (const [k, t] of inclusive) console.log(`  ${pct(t)}  ${k}`);
}
