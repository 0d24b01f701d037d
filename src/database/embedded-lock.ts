import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Lock files this process holds: its own pid in a lock file is stale only when it is not one of these. */
const heldByThisProcess = new Map<string, object>();

/**
 * PGlite is one process's database: a second process opening the same directory would corrupt
 * it. A pid file refuses the second opener, and a stale file (its process gone) is taken over.
 * A second open within this process is refused too (two PGlite instances corrupt it just the same).
 */
export function lockEmbeddedDirectory(lockPath: string): () => void {
  const key = resolve(lockPath);
  if (heldByThisProcess.has(key)) throw inUse(lockPath, process.pid);
  try {
    writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
  } catch {
    const holder = Number(readFileSync(lockPath, 'utf8'));
    if (holder && holder !== process.pid && processIsAlive(holder)) throw inUse(lockPath, holder);
    writeFileSync(lockPath, String(process.pid));
  }
  const lock = {};
  heldByThisProcess.set(key, lock);
  return () => {
    if (heldByThisProcess.get(key) !== lock) return; // released already; the path may be locked again since
    heldByThisProcess.delete(key);
    rmSync(lockPath, { force: true });
  };
}

function inUse(lockPath: string, pid: number): Error {
  return new Error(`the embedded database ${lockPath.replace(/\.lock$/, '')} is in use by process ${pid}; stop it first (PGlite allows one process)`);
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
