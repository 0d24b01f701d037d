import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { createInfrastructure } from '../app/infrastructure';
import { loadConfig } from '../config/load-config';
import { formatPosition } from '../eventstore/global-position';
import { verifyStore } from '../signing/store-verifier';

export function registerEventCommands(program: Command): void {
  const events = program.command('events').description('the event store');
  events
    .command('verify')
    .description('re-read every event, recompute its data hash and check its signature; exit 1 naming every bad event')
    .option('--tenant <id>', 'only this tenant')
    .option('--json', 'print the report as JSON')
    .action(async (options: { tenant?: string; json?: boolean }) => {
      const infrastructure = await createInfrastructure(loadConfig(), { readOnlyKeys: true });
      const bar = new SingleBar({ format: 'verifying {bar} {value} events | {rate}/s', stream: process.stderr, noTTYOutput: false }, Presets.shades_classic);
      const started = Date.now();
      if (!options.json) bar.start(0, 0, { rate: 0 });
      try {
        const report = await verifyStore(infrastructure.store, infrastructure.signer, {
          tenantId: options.tenant,
          onProgress: (checked) => {
            if (!options.json) bar.update(checked, { rate: Math.round(checked / Math.max((Date.now() - started) / 1000, 0.001)) });
          },
        });
        bar.stop();
        if (options.json) {
          process.stdout.write(JSON.stringify({ ...report, faults: report.faults.map((f) => ({ ...f, position: formatPosition(f.position) })) }, null, 2) + '\n');
        } else if (report.faults.length === 0) {
          process.stdout.write(`OK: ${report.checked} events verified\n`);
        } else {
          for (const f of report.faults) process.stdout.write(`BAD ${f.fault} event ${f.eventId} (stream ${f.streamId} version ${f.streamVersion}, position ${formatPosition(f.position)}): ${f.message}\n`);
          process.stdout.write(`FAILED: ${report.faults.length} of ${report.checked} events do not verify\n`);
        }
        process.exitCode = report.faults.length === 0 ? 0 : 1;
      } finally {
        bar.stop();
        await infrastructure.close();
      }
    });
}
