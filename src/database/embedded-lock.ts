import { readFileSync, rmSync, writeFileSync } from 'node:fs';

/**
 * PGlite is one process's database: a second process opening the same directory would corrupt
 * it. A pid file refuses the second opener, and a stale file (its process gone) is taken over.
 */
export function lockEmbeddedDirectory(lockPath: string): () => void {
  try {
    writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
  } catch {
    const holder = Number(readFileSync(lockPath, 'utf8'));
    if (holder && holder !== process.pid && processIsAlive(holder)) {
      throw new Error(`the embedded database ${lockPath.replace(/\.lock$/, '')} is in use by process ${holder}; stop it first (PGlite allows one process)`);
    }
    writeFileSync(lockPath, String(process.pid));
  }
  return () => rmSync(lockPath, { force: true });
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
