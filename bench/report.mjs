#!/usr/bin/env node
// Prints the results in bench/results (or --out DIR) as Markdown tables, for bench/README.md.
//   node bench/report.mjs [--out DIR]
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fmt, fmtRatio, parseArgs, resultsDir } from './lib/common.mjs';

const dir = resultsDir(parseArgs());
const load = async (name) => JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8').catch(() => 'null'));
const [p1, p2, p3, summary] = await Promise.all(['p1', 'p2', 'p3', 'summary'].map(load));
const range = (s, d = 0) => (s?.median == null ? 'n/a' : `${fmt(s.median, d)} (${fmt(s.min, d)}-${fmt(s.max, d)})`);
const lines = [];
const table = (head, rows) => {
  lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`), '');
};

if (summary) {
  lines.push('### Targets', '');
  table(
    ['path', 'target', 'measured: median (min-max of rounds)', 'needs', 'result'],
    summary.targets.map((t) => [t.path.toUpperCase(), t.description, t.value ? fmtRatio(t.value) : (t.note ?? 'n/a'), `${t.op} ${t.threshold}`, t.status]),
  );
  if (summary.informational?.length) {
    lines.push('Informational (no target):', '');
    table(
      ['path', 'ratio', 'measured: median (min-max of rounds)'],
      summary.informational.map((i) => [i.path.toUpperCase(), i.description, i.value ? fmtRatio(i.value) : 'n/a']),
    );
  }
}
if (p1) {
  lines.push(`### P1 publish (${p1.finishedAt}, load ${p1.load.start.one} -> ${p1.load.end.one})`, '');
  for (const [server, r] of Object.entries(p1.servers)) {
    table(
      [`${server}`, 'rate: median (min-max)', 'Node CPU µs per message'],
      [
        ...r.variants.map((v) => [v.label, `${range(v.rate)} ${v.unit}`, v.cpuMicrosPerMessage ? fmt(v.cpuMicrosPerMessage.median, 1) : '-']),
        ...(r.unavailable ?? []).map((u) => [u.label, `fails: ${u.error}`, '-']),
      ],
    );
    lines.push(Object.entries(r.ratios).map(([k, s]) => `${k}: ${fmtRatio(s)}`).join('; '), '');
    if (r.sharedMemoryProbe) lines.push(`Shared-memory probe (shipped size): ${JSON.stringify(r.sharedMemoryProbe)}`, '');
  }
}
if (p2) {
  lines.push(`### P2 authorization (${p2.finishedAt}, load ${p2.load.start.one} -> ${p2.load.end.one})`, '');
  for (const [server, r] of Object.entries(p2.servers)) {
    table(
      [`${server}`, 'subscribes/s: median (min-max)', 'nginx CPU µs per answer', 'app CPU µs per auth', 'app connections per auth'],
      r.variants.map((v) => [
        v.label,
        v.rate ? range(v.rate) : v.note,
        v.nginxCpuMicrosPerAnswer?.median != null ? fmt(v.nginxCpuMicrosPerAnswer.median, 1) : '-',
        v.appCpuMicrosPerAuth?.median != null ? fmt(v.appCpuMicrosPerAuth.median) : '-',
        v.appConnectionsPerAuth?.median != null ? fmt(v.appConnectionsPerAuth.median, 4) : '-',
      ]),
    );
    lines.push(Object.entries(r.ratios).map(([k, s]) => `${k}: ${fmtRatio(s)}`).join('; '), '');
  }
}
if (p3) {
  lines.push(`### P3 fan-out (${p3.finishedAt}, load ${p3.load.start.one} -> ${p3.load.end.one})`, '');
  const rows = [];
  for (const [size, systems] of Object.entries(p3.summary)) {
    for (const [system, s] of Object.entries(systems)) {
      rows.push([
        fmt(Number(size)),
        system,
        range(s.p50Ms, 1),
        range(s.p99Ms, 1),
        range(s.maxMs, 1),
        range(s.lastSubscriberMs, 1),
        `${s.lost} / ${s.doubled}`,
        fmt(s.memoryPerSubscriberBytes.median),
        `${fmt(s.serverCpuMicrosPerDelivery?.median, 1)} / ${fmt(s.clientCpuMicrosPerDelivery?.median, 1)}`,
        fmt(s.connectPerSecond.median),
      ]);
    }
  }
  table(['subs', 'system', 'p50 ms', 'p99 ms', 'max ms', 'last subscriber ms', 'lost / doubled', 'B per subscriber', 'CPU µs/delivery server / clients', 'connects/s'], rows);
  lines.push(Object.entries(p3.ratios).map(([k, s]) => `${k}: ${fmtRatio(s)}`).join('; '), '');
}
console.log(lines.join('\n'));
