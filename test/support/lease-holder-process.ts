import knex from 'knex';
import { AdvisoryLease } from '../../src/fanout/lease';

/**
 * A lease holder in a process of its own, for tests that freeze it (SIGSTOP): it takes the lease
 * LEASE_NAME in DATABASE_SCHEMA with LEASE_LIFETIME_MS, and reports `{"lease":…,"held":…}` on
 * stdout every 100 ms. Exits when its stdin closes.
 * Run with `node -r ts-node/register/transpile-only test/support/lease-holder-process.ts`.
 */
async function main(): Promise<void> {
  const connection = knex({ client: 'pg', connection: process.env.DATABASE_URL!, searchPath: [process.env.DATABASE_SCHEMA!], pool: { min: 0, max: 2 } });
  const lease = new AdvisoryLease(connection, process.env.LEASE_NAME!, { lifetimeMs: Number(process.env.LEASE_LIFETIME_MS) });
  const report = () => process.stdout.write(`${JSON.stringify({ lease: process.pid, held: lease.held, sessionPid: lease.sessionPid ?? null, lostBecause: lease.lostBecause ?? null })}\n`);
  while (!(await lease.tryAcquire())) await new Promise((resolve) => setTimeout(resolve, 100));
  const timer = setInterval(report, 100);
  report();
  const shutdown = async () => {
    clearInterval(timer);
    await lease.release();
    await connection.destroy();
    process.exit(0);
  };
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}

main().catch((error: unknown) => {
  process.stderr.write(`lease-holder-process: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
