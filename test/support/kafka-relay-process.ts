import 'reflect-metadata';
import { createInfrastructure } from '../../src/app/infrastructure';
import { loadConfig } from '../../src/config/load-config';

/**
 * A relay in a process of its own, for tests that SIGKILL it: the infrastructure built from the
 * environment as the server builds it, and only `fanout.relay` started. It reports its state as
 * one JSON line on stdout every 100 ms, and exits when its stdin closes (its test went away).
 * Run with `node -r ts-node/register/transpile-only test/support/kafka-relay-process.ts`.
 */
async function main(): Promise<void> {
  const infrastructure = await createInfrastructure(loadConfig(process.env), { ephemeralKeys: true });
  const relay = infrastructure.fanout.relay;
  if (!relay) throw new Error('no relay: KAFKA_BROKERS is not set');
  relay.start();
  const report = () => process.stdout.write(`${JSON.stringify({ relay: process.pid, active: relay.active, published: relay.published, lastError: relay.lastError ?? null })}\n`);
  const timer = setInterval(report, 100);
  report();
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    clearInterval(timer);
    await infrastructure.close().catch(() => undefined);
    process.exit(0);
  };
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
  process.on('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`kafka-relay-process: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
