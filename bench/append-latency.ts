import { EventSigner } from '../src/signing/event-signer';
import { KeyRegistry } from '../src/signing/key-registry';
import { presignedAppends, rawInserts, signedAppends } from './support/appenders';
import { environmentInfo, openInfrastructure, withSchema } from './support/database';
import { unsignedRenamed, workspaceStreamId } from './support/events';
import { elapsedMs, nowMs, printTable, printTargets, ratio, round, runPhases, writeReport, type BenchReport, type LoadResult, type PhaseNoise } from './support/kit';
import { createRawEventsTable } from './support/raw-events';

/**
 * Latency of one single-event signed append (seal + store.append, as a caller sees it) at
 * concurrency 1 and 16, RSA and Ed25519, against a plain INSERT of the same row; and of an
 * append of an envelope signed beforehand (the store alone).
 */
export async function appendLatency(): Promise<BenchReport> {
  const concurrencies = [1, Number(process.env.BENCH_CONCURRENCY ?? 16)];
  const sequentialOps = Number(process.env.BENCH_LATENCY_OPS ?? 2000);
  const phaseMs = Number(process.env.BENCH_PHASE_MS ?? 4000);
  const warmupMs = Number(process.env.BENCH_WARMUP_MS ?? 500);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const poolSize = Math.max(20, concurrencies[1] + 4);
  const startedAt = new Date();
  const t0 = nowMs();
  const environment = await environmentInfo();

  return withSchema('append_latency', async (schema) => {
    const infra = await openInfrastructure(schema, { keyType: 'rsa', poolSize });
    try {
      const knex = infra.database.knex;
      await createRawEventsTable(knex);
      const rsa = infra.signer;
      const ed25519 = new EventSigner(KeyRegistry.open({ keyType: 'ed25519' }));
      const template = rsa.seal(unsignedRenamed(workspaceStreamId('template'), 'Acme Research Workspace (renamed)', 'Acme Research Workspace'));

      const results: Record<string, LoadResult & { noise: PhaseNoise }> = {};
      for (const concurrency of concurrencies) {
        // Concurrency 1: a fixed count; otherwise a fixed duration. Phases interleave in rounds.
        const load = concurrency === 1 ? { concurrency, durationMs: 120_000, maxOps: sequentialOps, warmupMs } : { concurrency, durationMs: phaseMs, warmupMs };
        const supply = (raw: LoadResult) =>
          concurrency === 1 ? sequentialOps * 4 + 4_000 : Math.ceil((raw.eventsPerSec * (phaseMs + warmupMs * rounds) * 1.1 * (rounds + 2) / rounds) / 1000 / concurrency) + 1;
        const measured = await runPhases(
          [
            { name: 'raw', prepare: () => rawInserts(knex, template, 1) },
            { name: 'RSA', prepare: () => signedAppends(infra.store, rsa, 1, 'rsa') },
            { name: 'Ed25519', prepare: () => signedAppends(infra.store, ed25519, 1, 'ed') },
            { name: 'presigned', prepare: (done) => presignedAppends(infra.store, ed25519, 1, concurrency, supply(done.raw)) },
          ],
          load,
          rounds,
          false,
        );
        for (const [kind, result] of Object.entries(measured)) {
          results[`c${concurrency} ${kind}`] = result;
          console.log(`  c=${concurrency} ${kind}: p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms (${result.ops} appends)`);
        }
      }

      const rows = Object.entries(results).map(([name, r]) => {
        const raw = results[`${name.split(' ')[0]} raw`].latency;
        return {
          phase: name.includes('raw') ? `${name} INSERT` : name.includes('presigned') ? `${name} append (signed beforehand)` : `${name} signed append`,
          appends: r.ops,
          'p50 ms': r.latency.p50,
          'p90 ms': r.latency.p90,
          'p99 ms': r.latency.p99,
          'max ms': r.latency.max,
          'mean ms': r.latency.mean,
          'p50 vs raw': ratio(r.latency.p50, raw.p50),
          'p99 vs raw': ratio(r.latency.p99, raw.p99),
          'events/s': r.eventsPerSec,
          'node cpu %': r.cpu.nodePctOfCore,
          'pg cpu %': r.cpu.postgresPctOfCore,
          'other cpu %': r.cpu.otherPctOfCore,
          're-run': r.noise.discardedRounds,
        };
      });
      printTable('append-latency: single-event appends (signed = seal + store.append), latency per append', rows);

      const ratios: Record<string, number> = {};
      for (const c of concurrencies) {
        for (const kind of ['RSA', 'Ed25519', 'presigned']) {
          ratios[`c${c}${kind}P50OverRaw`] = ratio(results[`c${c} ${kind}`].latency.p50, results[`c${c} raw`].latency.p50);
          ratios[`c${c}${kind}P99OverRaw`] = ratio(results[`c${c} ${kind}`].latency.p99, results[`c${c} raw`].latency.p99);
        }
        ratios[`c${c}RsaOverEd25519P50`] = ratio(results[`c${c} RSA`].latency.p50, results[`c${c} Ed25519`].latency.p50);
      }
      // The issue sets no latency rule; these rows only make the ratios easy to find.
      const targets = concurrencies.flatMap((c) =>
        ['RSA', 'Ed25519'].map((kind) => ({
          name: `c=${c} ${kind} p50 / raw INSERT p50`,
          value: ratios[`c${c}${kind}P50OverRaw`],
          target: 'reported',
          met: true,
          informational: true,
        })),
      );
      printTargets(targets);

      return writeReport({
        name: 'append-latency',
        startedAt: startedAt.toISOString(),
        durationSec: round(elapsedMs(t0) / 1000, 1),
        environment,
        parameters: { concurrencies, sequentialOps, phaseMs, warmupMs, rounds, poolSize, schema },
        figures: { phases: results, table: rows },
        ratios,
        targets,
      });
    } finally {
      await infra.close();
    }
  });
}
