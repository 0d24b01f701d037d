import { sign } from 'node:crypto';
import { canonicalJson, signingInputOf } from '../contracts';
import { dataHashOf, EventSigner } from '../src/signing/event-signer';
import { KeyRegistry } from '../src/signing/key-registry';
import { presignedAppends, rawInserts, signedAppends } from './support/appenders';
import { environmentInfo, openInfrastructure, withSchema } from './support/database';
import { unsignedRenamed, workspaceStreamId } from './support/events';
import { coreCount, elapsedMs, nowMs, printTable, printTargets, rateOf, ratio, round, runPhases, writeReport, type BenchReport, type LoadResult } from './support/kit';
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
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
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
      const edKeys = KeyRegistry.open({ keyType: 'ed25519' });
      const ed25519 = new EventSigner(edKeys);

      // Signing alone, on this thread: what one core can seal per second, and what a seal is made of.
      const sample = unsignedRenamed(workspaceStreamId('seal-sample'), 'Acme Research Workspace (renamed)', 'Acme Research Workspace');
      const sealRate = { rsa: rateOf(1500, () => rsa.seal(sample)), ed25519: rateOf(1500, () => ed25519.seal(sample)) };
      const template = rsa.seal(sample);
      const signingInput = Buffer.from(canonicalJson(signingInputOf(template)), 'utf8');
      const rsaKey = infra.keys.active().privateKey;
      const edKey = edKeys.active().privateKey;
      const parts = {
        'build unsigned envelope (2 uuids, clock)': rateOf(500, () => unsignedRenamed(sample.streamId, 'a', 'b')),
        'dataHashOf(data) (canonical JSON + SHA-256)': rateOf(500, () => dataHashOf(sample.data)),
        'canonicalJson(envelope) (seal does it once, the store once more)': rateOf(500, () => canonicalJson(template)),
        'crypto.sign RSA-2048 only': rateOf(1000, () => sign('sha256', signingInput, rsaKey)),
        'crypto.sign Ed25519 only': rateOf(1000, () => sign(null, signingInput, edKey)),
        'seal() RSA': sealRate.rsa,
        'seal() Ed25519': sealRate.ed25519,
      };

      const load = { concurrency, durationMs: phaseMs, warmupMs };
      const supply = (raw: LoadResult, size: number) => supplyFor(raw, phaseMs + warmupMs * rounds, concurrency, size);
      const single = await runPhases(
        [
          { name: 'raw single', prepare: () => rawInserts(knex, template, 1) },
          { name: 'signed single RSA', prepare: () => signedAppends(infra.store, rsa, 1, 'rsa1') },
          { name: 'signed single Ed25519', prepare: () => signedAppends(infra.store, ed25519, 1, 'ed1') },
          { name: 'presigned single', prepare: (done) => presignedAppends(infra.store, ed25519, 1, concurrency, supply(done['raw single'], 1)) },
        ],
        load,
        rounds,
      );
      const batched = await runPhases(
        [
          { name: 'raw batched', prepare: () => rawInserts(knex, template, batchSize) },
          { name: 'signed batched RSA', prepare: () => signedAppends(infra.store, rsa, batchSize, 'rsa100') },
          { name: 'signed batched Ed25519', prepare: () => signedAppends(infra.store, ed25519, batchSize, 'ed100') },
          { name: 'presigned batched', prepare: (done) => presignedAppends(infra.store, ed25519, batchSize, concurrency, supply(done['raw batched'], batchSize)) },
        ],
        load,
        rounds,
      );
      const phases = { ...single, ...batched };

      const rate = (name: string) => phases[name].eventsPerSec;
      // CPU per event (this process; our PostgreSQL backends and helpers), and the rate this
      // machine's cores could sustain at that cost were nothing else running: an estimate.
      const perEventUs = (pct: number, r: LoadResult) => round(((pct / 100) * 1e6) / r.eventsPerSec, 1);
      const ceiling = (r: LoadResult) => Math.round((coreCount() * 1e6) / (perEventUs(r.cpu.nodePctOfCore, r) + perEventUs(r.cpu.postgresPctOfCore, r)));
      const signingShare = (name: string, sealsPerSec: number) => round(rate(name) / sealsPerSec, 3);
      const rows = Object.entries(phases).map(([name, r]) => ({
        phase: name,
        'events/s': r.eventsPerSec,
        'appends/s': r.opsPerSec,
        'vs raw': ratio(r.eventsPerSec, rate(name.includes('batched') ? 'raw batched' : 'raw single')),
        'p50 ms': r.latency.p50,
        'p99 ms': r.latency.p99,
        'signing core-share': name.includes('RSA') ? signingShare(name, sealRate.rsa) : name.includes('Ed25519') ? signingShare(name, sealRate.ed25519) : 0,
        'node µs/event': perEventUs(r.cpu.nodePctOfCore, r),
        'pg µs/event': perEventUs(r.cpu.postgresPctOfCore, r),
        'ceiling/s': ceiling(r),
        'node cpu %': r.cpu.nodePctOfCore,
        'pg cpu %': r.cpu.postgresPctOfCore,
        'other cpu %': r.cpu.otherPctOfCore,
        'iowait %': r.cpu.machineIowaitPct,
        're-run': phases[name].noise.discardedRounds,
      }));
      printTable(`append-throughput: ${concurrency} concurrent appenders on distinct streams, ${phaseMs / 1000} s per phase in ${rounds} interleaved rounds, batches of ${batchSize}`, rows);
      printTable(
        'Signing alone (one thread, a workspaces.renamed envelope): seal() and its parts',
        Object.entries(parts).map(([part, perSec]) => ({ part, 'per second': perSec, 'µs each': round(1e6 / perSec, 1) })),
      );

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
        parameters: { concurrency, poolSize, phaseMs, warmupMs, rounds, batchSize, schema, storeWiring: 'createInfrastructure (InstrumentedEventStore over PostgresEventStore)' },
        figures: { sealsPerSec: sealRate, sealPartsPerSec: parts, phases, table: rows },
        ratios,
        targets,
      });
    } finally {
      await infra.close();
    }
  });
}

/**
 * Pre-signed envelopes per worker: enough for warm-ups, all rounds and a re-run or two if the
 * store kept up with the raw baseline (it reaches 0.4 to 0.8 of it). Should the supply run out
 * first, its workers stop and the rate stays valid (over a shorter time).
 */
function supplyFor(raw: LoadResult, phaseMs: number, concurrency: number, batchSize = 1): number {
  const perWorker = Math.ceil(((raw.eventsPerSec * phaseMs) / 1000 / concurrency) * 1.3); // 1.3: room for a re-run round or two
  return Math.min(Math.max(perWorker, batchSize * 10), 15_000) + batchSize;
}
