import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../src/database/database';
import { lockEmbeddedDirectory } from '../../../src/database/embedded-lock';

let dir: string;
let lockPath: string;
let holder: ChildProcess | undefined;

/** Another live process, as a second Proofline on the same data dir would be. */
async function liveProcess(): Promise<number> {
  holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 60000)'], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    holder!.once('spawn', resolve);
    holder!.once('error', reject);
  });
  return holder.pid!;
}

/** The pid of a process that has exited (and was reaped): what a crashed server leaves in its lock file. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(child.stdout);
  expect(pid).toBeGreaterThan(0);
  expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  return pid;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'proofline-lock-'));
  lockPath = join(dir, 'pglite.lock');
});

afterEach(() => {
  if (holder?.pid && holder.exitCode === null) process.kill(holder.pid);
  holder = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('lockEmbeddedDirectory', () => {
  it('writes this process id into a new lock file', () => {
    const release = lockEmbeddedDirectory(lockPath);
    expect(readFileSync(lockPath, 'utf8')).toBe(String(process.pid));
    release();
  });

  it('a lock held by another live process is refused, naming that process and the database', async () => {
    const pid = await liveProcess();
    writeFileSync(lockPath, String(pid));
    expect(() => lockEmbeddedDirectory(lockPath)).toThrow(`the embedded database ${join(dir, 'pglite')} is in use by process ${pid}`);
    expect(readFileSync(lockPath, 'utf8')).toBe(String(pid)); // the holder keeps its lock
  });

  it('a second lock on a path this process holds is refused, naming this process', () => {
    const release = lockEmbeddedDirectory(lockPath);
    expect(() => lockEmbeddedDirectory(lockPath)).toThrow(`is in use by process ${process.pid}`);
    expect(existsSync(lockPath)).toBe(true);
    release();
    expect(existsSync(lockPath)).toBe(false);
    lockEmbeddedDirectory(lockPath)(); // released: it can be taken again
  });

  it('a stale lock file left by a dead process is taken over', () => {
    writeFileSync(lockPath, String(deadPid()));
    const release = lockEmbeddedDirectory(lockPath);
    expect(readFileSync(lockPath, 'utf8')).toBe(String(process.pid));
    release();
  });

  it('a stale lock file with this process id (a restarted container is pid 1 again) is taken over', () => {
    writeFileSync(lockPath, String(process.pid));
    const release = lockEmbeddedDirectory(lockPath);
    expect(readFileSync(lockPath, 'utf8')).toBe(String(process.pid));
    release();
  });

  it('an unreadable lock file (empty, garbage) is taken over', () => {
    for (const content of ['', 'not a pid']) {
      writeFileSync(lockPath, content);
      const release = lockEmbeddedDirectory(lockPath);
      expect(readFileSync(lockPath, 'utf8')).toBe(String(process.pid));
      release();
    }
  });

  it('release removes the lock file, and releasing twice is harmless', () => {
    const release = lockEmbeddedDirectory(lockPath);
    release();
    expect(existsSync(lockPath)).toBe(false);
    expect(() => release()).not.toThrow();
  });

  it('a release function that was already used does not remove a later lock on the same path', () => {
    const first = lockEmbeddedDirectory(lockPath);
    first();
    const second = lockEmbeddedDirectory(lockPath);
    first();
    expect(readFileSync(lockPath, 'utf8')).toBe(String(process.pid));
    second();
    expect(existsSync(lockPath)).toBe(false);
  });
});

describe('openDatabase on an embedded data dir', () => {
  it('a second open of the same directory is refused until the first is closed', async () => {
    const first = await openDatabase({ dataDir: dir });
    try {
      expect(readFileSync(join(dir, 'pglite.lock'), 'utf8')).toBe(String(process.pid));
      await expect(openDatabase({ dataDir: dir })).rejects.toThrow(`the embedded database ${join(dir, 'pglite')} is in use by process ${process.pid}`);
    } finally {
      await first.close();
    }
    expect(existsSync(join(dir, 'pglite.lock'))).toBe(false);
    const again = await openDatabase({ dataDir: dir });
    await again.close();
  }, 120_000); // a guard, not a measure: three PGlite opens with every migration took over 30 s on a loaded machine
});
