// Watches a test nginx for a crashed or replaced worker: the master's children (Linux /proc) and
// what the error log gained since the last look. A worker that dies on an assertion (Nchan's
// `nchan_reaper_withdraw: Assertion 'rp->count > 0' failed` was seen under fuzzing traffic) is
// replaced by the master at once, so only these two show it.
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NginxTestServer } from '../../lib/testing/index.js';

/** Error log lines that mean a worker is in trouble, not a refused request. */
const SERIOUS = /\[(alert|crit|emerg)\]|exited on signal|assert|core dumped|segfault|stack smashing|double free/i;

export interface WorkerState {
  pid: number;
  /** CPU time used so far, in clock ticks (utime + stime). */
  cpuTicks: number;
  state: string;
}

export interface HealthReport {
  problems: string[];
  /** The serious lines the error log gained. */
  serious: string[];
  /** The `[error]` lines it gained (limit_req refusals, unusual ids): context, not failures. */
  errors: string[];
  workers: WorkerState[];
}

async function masterPid(nginx: NginxTestServer): Promise<number> {
  return Number((await readFile(join(nginx.workDir, 'nginx.pid'), 'utf8').catch(() => '')).trim());
}

/** The master's children as /proc shows them; empty where there is no /proc. */
export async function workerStates(nginx: NginxTestServer): Promise<WorkerState[]> {
  const master = await masterPid(nginx);
  if (!master) return [];
  // The kernel's list of the master's children where it keeps one, else every process's parent.
  const children = await readFile(`/proc/${master}/task/${master}/children`, 'utf8').catch(() => null);
  const candidates = children !== null ? children.split(' ').filter((p) => p !== '') : await readdir('/proc').catch(() => [] as string[]);
  const states: WorkerState[] = [];
  for (const entry of candidates) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // After the parenthesised command: state, ppid, ..., utime (14th field) and stime (15th).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) !== master) continue;
    states.push({ pid: Number(entry), state: fields[0], cpuTicks: Number(fields[11]) + Number(fields[12]) });
  }
  return states.sort((a, b) => a.pid - b.pid);
}

export class NginxHealth {
  private constructor(
    private readonly nginx: NginxTestServer,
    private readonly workerPids: number[],
    private offset: number,
  ) {}

  static async watch(nginx: NginxTestServer): Promise<NginxHealth> {
    const workers = await workerStates(nginx);
    const log = await nginx.errorLog();
    return new NginxHealth(nginx, workers.map((w) => w.pid), Buffer.byteLength(log));
  }

  /** What changed since the last check: replaced workers and serious log lines are problems. */
  async check(): Promise<HealthReport> {
    const workers = await workerStates(this.nginx);
    const problems: string[] = [];
    const pids = workers.map((w) => w.pid);
    if (this.workerPids.length > 0 && pids.join(',') !== this.workerPids.join(',')) {
      problems.push(`nginx workers changed: ${this.workerPids.join(',')} -> ${pids.join(',') || 'none'}`);
    }
    const gained = await this.readGained();
    const lines = gained.split('\n').filter((l) => l !== '');
    const serious = lines.filter((l) => SERIOUS.test(l));
    if (serious.length > 0) problems.push(`the error log gained ${serious.length} serious line(s)`);
    return { problems, serious, errors: lines.filter((l) => l.includes('[error]')), workers };
  }

  private async readGained(): Promise<string> {
    const file = await open(join(this.nginx.workDir, 'logs', 'error.log'), 'r').catch(() => null);
    if (!file) return '';
    try {
      const { size } = await file.stat();
      if (size <= this.offset) return '';
      const buffer = Buffer.alloc(size - this.offset);
      await file.read(buffer, 0, buffer.length, this.offset);
      this.offset = size;
      return buffer.toString('latin1');
    } finally {
      await file.close();
    }
  }
}
