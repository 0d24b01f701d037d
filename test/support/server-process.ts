import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');
const MAIN = join(ROOT, 'src/main.ts');

export interface HealthAnswer {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
}

/**
 * The server as `npm start` runs it — src/main.ts, the start path of the package's CLI, not a
 * module a test wires by hand — in a child process of its own, configured only by `env`.
 */
export class ServerProcess {
  private static readonly running = new Set<ServerProcess>();
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    ServerProcess.running.add(this);
    child.stdout!.on('data', (chunk: Buffer) => (this.stdout = (this.stdout + chunk.toString('utf8')).slice(-8000)));
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString('utf8')).slice(-8000)));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => ServerProcess.running.delete(this));
  }

  /** Starts `src/main.ts` (through ts-node) with `env` and PORT = `port`; nothing else of the test's environment leaks in. */
  static start(port: number, env: Record<string, string>): ServerProcess {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', MAIN], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_OPTIONS: '--no-warnings', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServerProcess(child, port);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** GET /health once; undefined while nothing listens. */
  async health(): Promise<HealthAnswer | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.port}/health`, { signal: AbortSignal.timeout(5_000) });
      return { status: response.status, body: await response.json() };
    } catch {
      return undefined;
    }
  }

  /**
   * Polls /health until it answers 200 and returns that answer; throws, with the process's
   * output, when the process exits first or the time is up.
   */
  async healthy(timeoutMs: number): Promise<HealthAnswer> {
    const deadline = Date.now() + timeoutMs;
    let last: HealthAnswer | undefined;
    for (;;) {
      if (!this.running) throw new Error(`the server exited (${this.child.exitCode ?? this.child.signalCode}) before /health answered 200: ${this.stderr.trim() || this.stdout.trim()}`);
      last = (await this.health()) ?? last;
      if (last?.status === 200) return last;
      if (Date.now() > deadline) throw new Error(`/health did not answer 200 within ${timeoutMs} ms (last: ${JSON.stringify(last)}); stderr: ${this.stderr.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** SIGTERM (the server closes what it opened), SIGKILL if it has not exited 15 s later. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(killer);
  }

  /** Every server still running (afterAll, whatever happened). */
  static async stopAll(): Promise<void> {
    await Promise.all([...ServerProcess.running].map((server) => server.stop()));
  }
}
