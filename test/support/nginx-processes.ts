// A test nginx's processes from Linux /proc, for the fault suites: the master (its pid file in the
// work folder), its workers, and their process group; a SIGKILL of all of them at once (what an
// OOM kill or a crash of the host's process supervisor does); and a last-resort cleanup by pid.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface NginxProcesses {
  master: number;
  workers: number[];
  /** The master's process group (nginx daemonizes with setsid(): its own pid). */
  pgid: number;
}

interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
}

async function procStat(pid: number): Promise<ProcStat | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  // Fields after the parenthesised command: state, ppid, pgrp, ...
  const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state, ppid: Number(ppid), pgrp: Number(pgrp) };
}

/** Whether `pid` runs (a zombie, dead but not yet reaped, does not). */
export async function isRunning(pid: number): Promise<boolean> {
  const s = await procStat(pid);
  return s !== null && s.state !== 'Z' && s.state !== 'X';
}

/** The master named by the pid file and its children; null when the pid file names no running process. */
export async function nginxProcesses(workDir: string): Promise<NginxProcesses | null> {
  const master = Number((await readFile(join(workDir, 'nginx.pid'), 'utf8').catch(() => '')).trim());
  if (!master) return null;
  const stat = await procStat(master);
  if (stat === null || stat.state === 'Z') return null;
  const workers: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = await procStat(Number(entry));
    if (s && s.ppid === master && s.state !== 'Z') workers.push(Number(entry));
  }
  return { master, workers: workers.sort((a, b) => a - b), pgid: stat.pgrp };
}

/**
 * SIGKILL to nginx's master and workers at once, then waits (bounded) until none runs. The master
 * is a session leader after daemonizing, so its process group holds exactly nginx: the group is
 * killed when it is the master's own; otherwise each pid. Returns the pids that were killed.
 */
export async function sigkillNginx(workDir: string): Promise<number[]> {
  const procs = await nginxProcesses(workDir);
  if (!procs) throw new Error(`no running nginx for ${workDir}`);
  const pids = [procs.master, ...procs.workers];
  if (procs.pgid === procs.master) process.kill(-procs.pgid, 'SIGKILL');
  else for (const pid of pids) process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 5000;
  for (;;) {
    const running = [];
    for (const pid of pids) if (await isRunning(pid)) running.push(pid);
    if (running.length === 0) return pids;
    if (Date.now() > deadline) throw new Error(`nginx processes ${running.join(', ')} still run after SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * SIGKILL to every process of `seen` that still runs and is still that nginx (afterAll: nothing
 * left behind). A pid counts as the same process only while its command is nginx's and its
 * process group is the one recorded, so a pid reused by another program is never touched.
 * Returns the pids it killed.
 */
export async function killLeftovers(seen: Iterable<NginxProcesses>): Promise<number[]> {
  const killed: number[] = [];
  for (const procs of seen) {
    for (const pid of [procs.master, ...procs.workers]) {
      const s = await procStat(pid);
      if (s === null || s.state === 'Z' || s.pgrp !== procs.pgid) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (!cmd.startsWith('nginx')) continue;
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        // gone meanwhile
      }
    }
  }
  return killed;
}
