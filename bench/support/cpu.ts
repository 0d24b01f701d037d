import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { cpus } from 'node:os';
import { elapsedMs, nowMs, round } from './stats';

// CPU accounting: this Node process, the PostgreSQL processes (same machine) and the machine.

export interface CpuUsage {
  /** This process, in % of one core. */
  readonly nodePctOfCore: number;
  /** PostgreSQL (server on this machine) working for us: our connections' backends and the shared helpers, in % of one core. */
  readonly postgresPctOfCore: number;
  /** Whole machine busy time, in % of all cores. */
  readonly machineBusyPct: number;
  /** Whole machine time waiting on I/O, in % of all cores. */
  readonly machineIowaitPct: number;
  /** Busy time of everything else on the machine (other processes, other clients' backends, the kernel), in % of one core. */
  readonly otherPctOfCore: number;
}

interface CpuSnapshot {
  readonly at: number;
  readonly node: NodeJS.CpuUsage;
  readonly postgresTicks: Map<number, number>;
  readonly machine: { busy: number; iowait: number; total: number };
}

const TICKS_PER_SECOND = 100;

function machineTicks(): { busy: number; iowait: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy, iowait, total: busy + idle + iowait };
  } catch {
    return { busy: NaN, iowait: NaN, total: NaN };
  }
}

/** utime + stime of every `postgres` process, with its command line (which names a backend's client port). */
function postgresProcesses(): Map<number, { ticks: number; cmdline: string }> {
  const found = new Map<number, { ticks: number; cmdline: string }>();
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return found;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      const rest = stat.slice(close + 2).split(' ');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      found.set(Number(pid), { ticks: Number(rest[11]) + Number(rest[12]), cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** Local ports of this process's TCP connections to the PostgreSQL port. */
function ourDatabasePorts(): Set<number> {
  const ports = new Set<number>();
  try {
    const inodes = new Set<string>();
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        const match = /^socket:\[(\d+)\]$/.exec(target);
        if (match) inodes.add(match[1]);
      } catch {
        // closed meanwhile
      }
    }
    const serverPort = Number(new URL(process.env.DATABASE_URL || 'postgres://127.0.0.1:5432').port || 5432);
    for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields.length < 10 || !inodes.has(fields[9])) continue;
        if (parseInt(fields[2].split(':')[1], 16) === serverPort) ports.add(parseInt(fields[1].split(':')[1], 16));
      }
    }
  } catch {
    // no /proc: no attribution
  }
  return ports;
}

/**
 * The PostgreSQL processes whose CPU counts as ours: the backends serving this process's
 * connections, and the server's shared helpers (WAL writer, checkpointer, background writer,
 * autovacuum). Backends of other clients of the same server (e.g. test runs) count as "other".
 */
function ourPostgresTicks(): Map<number, number> {
  const ports = ourDatabasePorts();
  const ticks = new Map<number, number>();
  for (const [pid, proc] of postgresProcesses()) {
    const client = /\((\d+)\)/.exec(proc.cmdline);
    const backend = client !== null;
    if (!backend || ports.has(Number(client[1]))) ticks.set(pid, proc.ticks);
  }
  return ticks;
}

export function startCpu(): CpuSnapshot {
  return { at: nowMs(), node: process.cpuUsage(), postgresTicks: ourPostgresTicks(), machine: machineTicks() };
}

export function stopCpu(start: CpuSnapshot): CpuUsage {
  const wallMs = elapsedMs(start.at);
  const node = process.cpuUsage(start.node);
  const pgEnd = postgresProcesses();
  let pg = 0;
  for (const [pid, ticks] of start.postgresTicks) if (pgEnd.has(pid)) pg += pgEnd.get(pid)!.ticks - ticks;
  const machine = machineTicks();
  const total = Math.max(1, machine.total - start.machine.total); // under one clock tick: call it idle
  const nodePct = ((node.user + node.system) / 1000 / wallMs) * 100;
  const postgresPct = (((pg / TICKS_PER_SECOND) * 1000) / wallMs) * 100;
  const machineBusyPct = ((machine.busy - start.machine.busy) / total) * 100;
  return {
    nodePctOfCore: round(nodePct, 1),
    postgresPctOfCore: round(postgresPct, 1),
    machineBusyPct: round(machineBusyPct, 1),
    machineIowaitPct: round(((machine.iowait - start.machine.iowait) / total) * 100, 1),
    otherPctOfCore: round(Math.max(0, machineBusyPct * coreCount() - nodePct - postgresPct), 1),
  };
}

/** Samples the machine for `ms`: how busy it is without us (other processes, PostgreSQL). */
export async function sampleBackground(ms = 1000): Promise<CpuUsage> {
  const start = startCpu();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return stopCpu(start);
}

/**
 * Waits until the machine is quiet (busy below `maxBusyPct` of all cores over a 1 s sample),
 * at most `maxWaitMs`; benchmarks on a busy shared machine measure the neighbours.
 */
export async function waitForQuiet(maxBusyPct = 15, maxWaitMs = 60_000, log = true): Promise<{ quiet: boolean; waitedMs: number; lastSample: CpuUsage }> {
  const started = nowMs();
  let said = false;
  for (;;) {
    const sample = await sampleBackground();
    if (sample.machineBusyPct <= maxBusyPct) return { quiet: true, waitedMs: round(elapsedMs(started), 0), lastSample: sample };
    if (elapsedMs(started) > maxWaitMs) return { quiet: false, waitedMs: round(elapsedMs(started), 0), lastSample: sample };
    if (log && !said) console.log(`  machine busy ${sample.machineBusyPct}% (other processes); waiting for it to quieten...`);
    said = true;
  }
}

export function coreCount(): number {
  return cpus().length;
}
