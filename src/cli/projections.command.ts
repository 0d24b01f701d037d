import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { projectorNamed, PROJECTORS } from '../../projections';
import { forgetPartitionOffsets, resumeProjector } from '../../projections/runtime/positions';
import { rebuildProjection } from '../../projections/runtime/rebuild';
import { checksumOf } from '../../projections/runtime/tables';
import { createInfrastructure, type Infrastructure } from '../app/infrastructure';
import { loadConfig } from '../config/load-config';
import { ProoflineError } from '../errors/proofline-error';
import { eventsAfter } from '../fanout/lag';
import { START } from '../eventstore/global-position';

async function withInfrastructure(work: (infrastructure: Infrastructure) => Promise<void>): Promise<void> {
  const infrastructure = await createInfrastructure(loadConfig(), { readOnlyKeys: true });
  try {
    await work(infrastructure);
  } finally {
    await infrastructure.close();
  }
}

function requireProjector(name: string) {
  const projector = projectorNamed(name);
  if (!projector) throw new Error(`no projector named ${JSON.stringify(name)}; there are: ${PROJECTORS.map((p) => p.name).join(', ')}`);
  return projector;
}

export function registerProjectionCommands(program: Command): void {
  const projections = program.command('projections').description('the read models: status, rebuild, resume');

  projections
    .command('status')
    .description("every projector's position, lag (events, seconds) and state, and the relay's")
    .option('--json', 'machine-readable')
    .option('--checksum', "add a digest of each projector's rows (two rebuilds from the same events give the same)")
    .action((options: { json?: boolean; checksum?: boolean }) =>
      withInfrastructure(async (infrastructure) => {
        const status = await infrastructure.fanout.status();
        const checksums = options.checksum ? await Promise.all(PROJECTORS.map((projector) => checksumOf(infrastructure.database.knex, projector).catch(() => 'no tables yet'))) : [];
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ ...status, projectors: status.projectors.map((p, i) => ({ ...p, checksum: checksums[i] })) }, null, 2)}\n`);
          return;
        }
        process.stdout.write(`fan-out: ${status.mode}\n`);
        if (status.relay) process.stdout.write(`relay    ${status.relay.active ? 'active ' : 'standby'}  at ${status.relay.checkpoint}  ${status.relay.lagEvents === null ? 'lag unknown' : `lag ${status.relay.lagEvents} events / ${(status.relay.lagSeconds ?? 0).toFixed(1)} s`}${status.relay.lastError ? `  last error: ${status.relay.lastError}` : ''}\n`);
        if (status.horizon) {
          const { ageSeconds, degraded, oldest, error } = status.horizon;
          const holder = oldest ? `  oldest: ${oldest.kind} ${oldest.pid ?? oldest.gid ?? ''} in ${oldest.database ?? '?'} (${oldest.state ?? '?'}), xid ${oldest.xid}` : '';
          process.stdout.write(`horizon  ${error ? `unknown: ${error}` : `age ${ageSeconds === null ? 'unknown' : `${ageSeconds.toFixed(1)} s`}${degraded ? ' DEGRADED (readers stalled)' : ''}${holder}`}\n`);
        }
        for (const halt of status.relay?.halts ?? []) process.stdout.write(`relay    ${halt.code}: tenant ${halt.tenantId} held since ${halt.position}: ${halt.message}\n`);
        status.projectors.forEach((p, i) => {
          const checksum = checksums[i] ? `  checksum ${checksums[i]}` : '';
          const lag = p.lagEvents === null ? 'lag unknown' : `lag ${p.lagEvents} events / ${(p.lagSeconds ?? 0).toFixed(1)} s`;
          process.stdout.write(`${p.projector.padEnd(22)} ${p.state.padEnd(8)} at ${p.position}  applied ${p.applied}  ${lag}${p.lastError ? `  error: ${p.lastError}` : ''}${checksum}\n`);
        });
      }),
    );

  projections
    .command('rebuild <name>')
    .description('replay the store into shadow tables (queries keep the old ones), then switch over; prints the checksum')
    .option('--batch-size <n>', 'events per transaction', (value) => Number(value), 2000)
    .action((name: string, options: { batchSize: number }) =>
      withInfrastructure(async (infrastructure) => {
        const projector = requireProjector(name);
        const { knex } = infrastructure.database;
        const total = (await eventsAfter(infrastructure.store, START)).count;
        const bar = new SingleBar({ format: `rebuilding ${name} {bar} {value}/{total} events | {rate} events/s | ETA {eta_formatted}`, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 2000 }, Presets.shades_classic);
        const started = Date.now();
        bar.start(total, 0, { rate: 0 });
        const outcome = await rebuildProjection(knex, infrastructure.store, projector, {
          batchSize: options.batchSize,
          liveRunnersMayExist: infrastructure.database.kind === 'postgres',
          onProgress: ({ events }) => bar.update(Math.min(events, Math.max(total, events)), { total: Math.max(total, events), rate: Math.round(events / Math.max(0.001, (Date.now() - started) / 1000)) }),
        }).catch((error: unknown) => {
          bar.stop();
          // The code first: scripts branch on it (PROJECTION.REBUILD_IN_PROGRESS: another rebuild of this projector runs).
          throw error instanceof ProoflineError ? new Error(`${error.code}: ${error.message}`) : error;
        });
        bar.stop();
        const seconds = (Date.now() - started) / 1000;
        process.stdout.write(`rebuilt ${name}: ${outcome.events} events in ${seconds.toFixed(1)} s (${Math.round(outcome.events / Math.max(seconds, 0.001))} events/s), switched over\nchecksum ${outcome.checksum}\n`);
      }),
    );

  projections
    .command('forget-offsets <name>')
    .description("after a Kafka topic was deleted and created again (KAFKA.PARTITION_REWOUND in the projector's lastError): forget the projector's offsets of that topic, so it reads the new topic from its start; then rebuild the projector for what the old topic held")
    .requiredOption('--topic <topic>', 'the topic that was created again')
    .action((name: string, options: { topic: string }) =>
      withInfrastructure(async (infrastructure) => {
        requireProjector(name);
        const forgotten = await forgetPartitionOffsets(infrastructure.database.knex, name, options.topic);
        process.stdout.write(`${name}: forgot the offsets of ${forgotten} partition(s) of ${options.topic}; run 'proofline projections rebuild ${name}' for the events the old topic held\n`);
      }),
    );

  projections
    .command('resume <name>')
    .description('let a projector stopped by a failing event (policy "stop") run again; it retries that event first')
    .action((name: string) =>
      withInfrastructure(async (infrastructure) => {
        requireProjector(name);
        await resumeProjector(infrastructure.database.knex, name);
        process.stdout.write(`${name} is set to run again: in-process, a running server goes on within a second; through Kafka, at the next start of its consumer (restart the instance)\n`);
      }),
    );
}
