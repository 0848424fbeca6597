// Gathers the targets of every path's results file into summary.json and summary.svg.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { targetChart } from './svg.mjs';
import { writeResult, writeText } from './common.mjs';

const PATHS = ['p1', 'p2', 'p3'];

function rowText(t) {
  if (t.value == null) return t.note ?? 'not measured';
  const digits = t.value.median >= 10 ? 1 : 2;
  return `${t.value.median.toFixed(digits)} (needs ${t.op} ${t.threshold}) ${t.status}`;
}

export async function writeSummary(dir) {
  const found = {};
  for (const p of PATHS) {
    try {
      found[p] = JSON.parse(await readFile(join(dir, `${p}.json`), 'utf8'));
    } catch {
      // path not run into this folder yet
    }
  }
  const targets = Object.entries(found).flatMap(([p, r]) => (r.targets ?? []).map((t) => ({ path: p, finishedAt: r.finishedAt, ...t })));
  // Ratios a path reports without a target (P2: session mode via the Express endpoint).
  const informational = Object.entries(found).flatMap(([p, r]) => (r.informational ?? []).map((i) => ({ path: p, finishedAt: r.finishedAt, ...i })));
  const summary = {
    generatedAt: new Date().toISOString(),
    paths: Object.fromEntries(Object.entries(found).map(([p, r]) => [p, { finishedAt: r.finishedAt, quick: r.quick, load: r.load }])),
    machine: Object.values(found)[0]?.machine ?? null,
    targets,
    informational,
    passed: targets.filter((t) => t.pass === true).length,
    failed: targets.filter((t) => t.pass === false).length,
    notMeasured: targets.filter((t) => t.pass === null).length,
  };
  await writeResult(dir, 'summary', summary);
  const m = summary.machine;
  const svg = targetChart({
    title: 'nestjs-push-stream benchmark targets',
    subtitle: m
      ? `${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}, nginx ${m.nginx}; ` +
        `${summary.passed} met, ${summary.failed} missed, ${summary.notMeasured} not measured`
      : '',
    rows: targets.map((t) => ({
      label: `${t.path.toUpperCase()} ${t.description}`,
      value: t.value,
      threshold: t.threshold,
      op: t.op,
      status: t.status,
      text: rowText(t),
    })),
  });
  await writeText(dir, 'summary.svg', svg);
  return summary;
}
