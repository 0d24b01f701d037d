import { EventSigner } from '../src/signing/event-signer';
import { KeyRegistry } from '../src/signing/key-registry';
import { presignedAppends, rawInserts, signedAppends } from './support/appenders';
import { environmentInfo, openInfrastructure, withSchema } from './support/database';
import { unsignedRenamed, workspaceStreamId } from './support/events';
import { elapsedMs, nowMs, printTable, printTargets, rateOf, ratio, round, runLoad, writeReport, type BenchReport, type LoadResult } from './support/kit';
import { createRawEventsTable } from './support/raw-events';

/**
 * Append throughput on the PostgreSQL server: signed appends through the store (RSA, Ed25519;
 * one event and 100 events per append) against plain INSERTs of the same rows, same
 * concurrency, same pool. Signing alone (seal/s) and appends of pre-signed envelopes show
 * what share of an append is signing.
 */
export async function appendThroughput(): Promise<BenchReport> {
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
  const phaseMs = Number(process.env.BENCH_PHASE_MS ?? 4000);
  const warmupMs = Number(process.env.BENCH_WARMUP_MS ?? 500);
  const batchSize = 100;
  const poolSize = Math.max(20, concurrency + 4);
  const startedAt = new Date();
  const t0 = nowMs();
  const environment = await environmentInfo();

  return withSchema('append_throughput', async (schema) => {
    const infra = await openInfrastructure(schema, { keyType: 'rsa', poolSize });
    try {
      const knex = infra.database.knex;
      await createRawEventsTable(knex);
      const rsa = infra.signer;
      const ed25519 = new EventSigner(KeyRegistry.open({ keyType: 'ed25519' }));

      // Signing alone, on this thread: what one core can seal per second.
      const sample = unsignedRenamed(workspaceStreamId('seal-sample'), 'Acme Research Workspace (renamed)', 'Acme Research Workspace');
      const sealRate = { rsa: rateOf(1500, () => rsa.seal(sample)), ed25519: rateOf(1500, () => ed25519.seal(sample)) };
      const template = rsa.seal(sample);

      const load = { concurrency, durationMs: phaseMs, warmupMs };
      const phases: Record<string, LoadResult> = {};
      const run = async (name: string, op: Parameters<typeof runLoad>[1]) => {
        const started = nowMs();
        phases[name] = await runLoad(load, op);
        console.log(`  ${name}: ${Math.round(phases[name].eventsPerSec)} events/s (${round(elapsedMs(started) / 1000, 1)} s)`);
      };

      await run('raw single', rawInserts(knex, template, 1));
      await run('signed single RSA', signedAppends(infra.store, rsa, 1, 'rsa1'));
      await run('signed single Ed25519', signedAppends(infra.store, ed25519, 1, 'ed1'));
      await run('presigned single', presignedAppends(infra.store, ed25519, 1, concurrency, supplyFor(phases['raw single'], phaseMs + warmupMs, concurrency)));
      await run('raw batched', rawInserts(knex, template, batchSize));
      await run('signed batched RSA', signedAppends(infra.store, rsa, batchSize, 'rsa100'));
      await run('signed batched Ed25519', signedAppends(infra.store, ed25519, batchSize, 'ed100'));
      await run('presigned batched', presignedAppends(infra.store, ed25519, batchSize, concurrency, supplyFor(phases['raw batched'], phaseMs + warmupMs, concurrency, batchSize)));

      const rate = (name: string) => phases[name].eventsPerSec;
      const signingShare = (name: string, sealsPerSec: number) => round(rate(name) / sealsPerSec, 3);
      const rows = Object.entries(phases).map(([name, r]) => ({
        phase: name,
        'events/s': r.eventsPerSec,
        'appends/s': r.opsPerSec,
        'vs raw': ratio(r.eventsPerSec, rate(name.includes('batched') ? 'raw batched' : 'raw single')),
        'p50 ms': r.latency.p50,
        'p99 ms': r.latency.p99,
        'signing core-share': name.includes('RSA') ? signingShare(name, sealRate.rsa) : name.includes('Ed25519') ? signingShare(name, sealRate.ed25519) : 0,
        'node cpu %': r.cpu.nodePctOfCore,
        'pg cpu %': r.cpu.postgresPctOfCore,
        'machine busy %': r.cpu.machineBusyPct,
        'iowait %': r.cpu.machineIowaitPct,
      }));
      printTable(`append-throughput: ${concurrency} concurrent appenders on distinct streams, ${phaseMs / 1000} s per phase, batches of ${batchSize}`, rows);
      printTable('Signing alone (one thread, seal() of a workspaces.renamed envelope)', [
        { key: 'RSA-2048 (RS256)', 'seals/s': sealRate.rsa, 'ms/seal': round(1000 / sealRate.rsa, 4) },
        { key: 'Ed25519 (EdDSA)', 'seals/s': sealRate.ed25519, 'ms/seal': round(1000 / sealRate.ed25519, 4) },
      ]);

      const ratios = {
        batchedSignedRsaOverRawBatched: ratio(rate('signed batched RSA'), rate('raw batched')),
        batchedSignedEd25519OverRawBatched: ratio(rate('signed batched Ed25519'), rate('raw batched')),
        presignedBatchedOverRawBatched: ratio(rate('presigned batched'), rate('raw batched')),
        singleSignedRsaOverRawSingle: ratio(rate('signed single RSA'), rate('raw single')),
        singleSignedEd25519OverRawSingle: ratio(rate('signed single Ed25519'), rate('raw single')),
        presignedSingleOverRawSingle: ratio(rate('presigned single'), rate('raw single')),
        singleRsaOverEd25519: ratio(rate('signed single RSA'), rate('signed single Ed25519')),
        batchedRsaOverEd25519: ratio(rate('signed batched RSA'), rate('signed batched Ed25519')),
        sealRateRsaOverEd25519: ratio(sealRate.rsa, sealRate.ed25519),
      };
      const targets = [
        { name: 'batched signed (RSA) / raw batched', value: ratios.batchedSignedRsaOverRawBatched, target: '>= 0.5', met: ratios.batchedSignedRsaOverRawBatched >= 0.5 },
        { name: 'batched signed (Ed25519) / raw batched', value: ratios.batchedSignedEd25519OverRawBatched, target: '>= 0.5', met: ratios.batchedSignedEd25519OverRawBatched >= 0.5 },
        { name: 'single signed RSA events/s', value: rate('signed single RSA'), target: '>= 1500', met: rate('signed single RSA') >= 1500 },
        { name: 'single signed Ed25519 events/s', value: rate('signed single Ed25519'), target: '>= 3000', met: rate('signed single Ed25519') >= 3000 },
        { name: 'single RSA / Ed25519 events/s', value: ratios.singleRsaOverEd25519, target: 'reported', met: true, informational: true },
      ];
      printTargets(targets);

      return writeReport({
        name: 'append-throughput',
        startedAt: startedAt.toISOString(),
        durationSec: round(elapsedMs(t0) / 1000, 1),
        environment,
        parameters: { concurrency, poolSize, phaseMs, warmupMs, batchSize, schema, storeWiring: 'createInfrastructure (InstrumentedEventStore over PostgresEventStore)' },
        figures: { sealsPerSec: sealRate, phases, table: rows },
        ratios,
        targets,
      });
    } finally {
      await infra.close();
    }
  });
}

/** Pre-signed envelopes per worker: enough for the phase if the store ran at 1.5x the raw rate. */
function supplyFor(raw: LoadResult, phaseMs: number, concurrency: number, batchSize = 1): number {
  const perWorker = Math.ceil(((raw.eventsPerSec * phaseMs) / 1000 / concurrency) * 1.5);
  return Math.min(Math.max(perWorker, batchSize * 10), 20_000) + batchSize;
}
