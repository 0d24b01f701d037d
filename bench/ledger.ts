import type { SigningKeyType } from '../src/config/proofline-config';
import type { Infrastructure } from '../src/app/infrastructure';
import { verifyChain } from '../src/ledger/ledger-verifier';
import { batchTree, rootFromLeafHashes } from '../src/ledger/merkle';
import { EventSigner } from '../src/signing/event-signer';
import { signedAppends } from './support/appenders';
import { environmentInfo, openInfrastructure, withSchema } from './support/database';
import { BENCH_TENANT } from './support/events';
import { elapsedMs, nowMs, percentile, printTable, printTargets, ratio, round, runPhases, writeReport, type BenchReport } from './support/kit';
import { loadTenant, storeEvents } from './support/ledger-data';
import { proofServingCost, verifyLedgerCheckpointCost } from './support/ledger-diagnostics';
import { buildPass, bytesPerReceipt, hashPasses, inclusionPass, randomIndexes, sink, verifyParts, verifyPasses } from './support/ledger-passes';
import { runPasses, type PassResult } from './support/passes';

/**
 * The value-receipt ledger on the PostgreSQL server, one tenant of N events, in two fresh
 * schemas: one whose events were appended one per append (each with its own signature: the
 * worst case for verifying), one appended 100 per append via sealBatch (one signature per
 * batch). Measured: receipt building (ReceiptBuilder.catchUp from an empty ledger) against
 * signed append throughput on the same store; verifyChain (hash-only and with signatures)
 * against raw SHA-256 over the same bytes; verifyInclusion latency against one SHA-256.
 */
export async function ledger(): Promise<BenchReport> {
  const events = Number(process.env.BENCH_LEDGER_EVENTS ?? 20_000);
  const proofCount = Number(process.env.BENCH_LEDGER_PROOFS ?? 10_000);
  const keyType = (process.env.BENCH_LEDGER_KEY_TYPE ?? 'rsa') as SigningKeyType;
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
  const phaseMs = Number(process.env.BENCH_PHASE_MS ?? 4000);
  const warmupMs = Number(process.env.BENCH_WARMUP_MS ?? 500);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const cpuRounds = 5;
  const startedAt = new Date();
  const t0 = nowMs();
  const environment = await environmentInfo();

  return withSchema('ledger_single', (singleSchema) =>
    withSchema('ledger_batched', async (batchedSchema) => {
      const single = await openInfrastructure(singleSchema, { keyType, poolSize: Math.max(20, concurrency + 4) });
      let batched: Infrastructure | undefined;
      try {
        batched = await openInfrastructure(batchedSchema, { keyType, poolSize: 20 });
        const setupStarted = nowMs();
        const stored = { single: await storeEvents(single, events, 1), batched: await storeEvents(batched, events, 100) };
        console.log(`  stored ${stored.single} single-append and ${stored.batched} batched events (${keyType}) in ${round(elapsedMs(setupStarted) / 1000, 1)} s`);

        // 3. Receipt building from an empty ledger, both schemas in interleaved rounds (one discarded warm-up build each).
        const build = await runPasses([buildPass('build (single-append events)', single), buildPass('build (batched events)', batched)], { rounds, minRoundMs: 0, warmupRuns: 1 });

        // 1. Verifying: the last build's receipts and their events in memory (not timed).
        const chains = { single: await loadTenant(single, BENCH_TENANT, stored.single), batched: await loadTenant(batched, BENCH_TENANT, stored.batched) };
        for (const [kind, chain] of Object.entries(chains)) {
          const infra = kind === 'single' ? single : batched;
          const fault = verifyChain(BENCH_TENANT, chain.receipts, chain.events, { signer: new EventSigner(infra.keys) });
          if (fault) throw new Error(`${kind}: the ledger just built does not verify: ${fault.message}`);
        }
        const verify = await runPasses(
          [...verifyPasses('single-append', single, chains.single.receipts, chains.single.events), ...verifyPasses('batched', batched, chains.batched.receipts, chains.batched.events)],
          { rounds: cpuRounds, minRoundMs: 300, warmupRuns: 1 },
        );
        const middle = Math.floor(stored.single / 2);
        const parts = verifyParts(chains.single.receipts[middle], chains.single.events[middle]);

        // 2. Inclusion proofs in the single-append tree of N receipts, made beforehand in one O(n log n) pass.
        const leaves = chains.single.receipts.map((receipt) => Buffer.from(receipt.leafHash, 'hex'));
        const root = rootFromLeafHashes(leaves);
        const { proofs } = batchTree(leaves);
        const indexes = randomIndexes(proofCount, leaves.length);
        const proofSet = { leaves, proofs, root, indexes, perRound: Math.ceil(proofCount / cpuRounds) };
        const inclusion = await runPasses([inclusionPass(proofSet), ...hashPasses()], { rounds: cpuRounds, minRoundMs: 0, warmupRuns: 1 });

        // Diagnostics (read side, once): serving a proof; verifyLedger with many checkpoints.
        const serving = await proofServingCost(single, leaves, proofs, indexes.slice(0, 20));
        const batchedLeaves = chains.batched.receipts.map((receipt) => Buffer.from(receipt.leafHash, 'hex'));
        const checkpointCost = await verifyLedgerCheckpointCost(batched, batchedLeaves);

        // 3. Signed append throughput on the same store (single-append schema), after the builds.
        const appends = await runPhases(
          [
            { name: 'signed single appends', prepare: () => signedAppends(single.store, single.signer, 1, 'app1') },
            { name: 'signed batched appends (100, sealBatch)', prepare: () => signedAppends(single.store, single.signer, 100, 'app100') },
          ],
          { concurrency, durationMs: phaseMs, warmupMs },
          rounds,
        );

        const rate = (r: PassResult) => r.itemsPerSec;
        const v = (name: string) => rate(verify[name]);
        const appendSingle = appends['signed single appends'].eventsPerSec;
        const appendBatched = appends['signed batched appends (100, sealBatch)'].eventsPerSec;
        const buildSingle = rate(build['build (single-append events)']);
        const buildBatched = rate(build['build (batched events)']);
        const proofUs = [...inclusion.verifyInclusion.latenciesMs].map((ms) => ms * 1000).sort((a, b) => a - b);
        const hashUs = 1e6 / rate(inclusion['SHA-256 of 64 bytes']);
        const nodeHashUs = 1e6 / rate(inclusion['nodeHash (0x01 || 32 B || 32 B)']);
        const proofLatencyUs = { mean: round(proofUs.reduce((sum, us) => sum + us, 0) / proofUs.length, 2), p50: round(percentile(proofUs, 50), 2), p90: round(percentile(proofUs, 90), 2), p99: round(percentile(proofUs, 99), 2), max: round(proofUs[proofUs.length - 1], 2), count: proofUs.length };

        const ratios = {
          hashOnlyOverRawSingle: ratio(v('verifyChain hash-only (single-append)'), v('raw SHA-256 (single-append)')),
          hashOnlyOverRawBatched: ratio(v('verifyChain hash-only (batched)'), v('raw SHA-256 (batched)')),
          signaturesOverRawSingle: ratio(v('verifyChain signatures (single-append)'), v('raw SHA-256 (single-append)')),
          signaturesOverRawBatched: ratio(v('verifyChain signatures (batched)'), v('raw SHA-256 (batched)')),
          proofP50InHashes: ratio(proofLatencyUs.p50, hashUs),
          proofP99InHashes: ratio(proofLatencyUs.p99, hashUs),
          buildSingleOverAppendSingle: ratio(buildSingle, appendSingle),
          buildBatchedOverAppendBatched: ratio(buildBatched, appendBatched),
          buildSingleOverAppendBatched: ratio(buildSingle, appendBatched),
        };

        const cpuCols = (r: PassResult) => ({ 'node cpu %': r.cpu.nodePctOfCore, 'pg cpu %': r.cpu.postgresPctOfCore, 'other cpu %': r.cpu.otherPctOfCore, 're-run': r.discardedRounds });
        const verifyRows = Object.entries(verify).map(([name, r]) => ({
          pass: name,
          'receipts/s': r.itemsPerSec,
          'vs raw': ratio(r.itemsPerSec, v(name.includes('batched') ? 'raw SHA-256 (batched)' : 'raw SHA-256 (single-append)')),
          'µs/receipt': round(1e6 / r.itemsPerSec, 2),
          'round min/s': Math.min(...r.roundRates),
          'round max/s': Math.max(...r.roundRates),
          ...cpuCols(r),
        }));
        const throughputRows = [
          ...Object.entries(build).map(([name, r]) => ({ phase: name, 'events/s': r.itemsPerSec, 'round min/s': Math.min(...r.roundRates), 'round max/s': Math.max(...r.roundRates), ...cpuCols(r) })),
          ...Object.entries(appends).map(([name, r]) => ({ phase: name, 'events/s': r.eventsPerSec, 'p50 ms': r.latency.p50, 'p99 ms': r.latency.p99, 'node cpu %': r.cpu.nodePctOfCore, 'pg cpu %': r.cpu.postgresPctOfCore, 'other cpu %': r.cpu.otherPctOfCore, 're-run': r.noise.discardedRounds })),
        ];
        const inclusionRows = [
          { measure: `verifyInclusion, tree of ${leaves.length}, ${proofLatencyUs.count} random leaves`, 'p50 µs': proofLatencyUs.p50, 'p90 µs': proofLatencyUs.p90, 'p99 µs': proofLatencyUs.p99, 'max µs': proofLatencyUs.max, 'mean µs': proofLatencyUs.mean, 'p50 in hashes': ratios.proofP50InHashes, 'p99 in hashes': ratios.proofP99InHashes, 'mean in hashes': ratio(proofLatencyUs.mean, hashUs) },
          { measure: 'one SHA-256 of 64 bytes', 'p50 µs': round(hashUs, 3) },
          { measure: 'one nodeHash (0x01 || 32 B || 32 B)', 'p50 µs': round(nodeHashUs, 3) },
        ];
        const sizes = { 'single-append': bytesPerReceipt(chains.single.receipts, chains.single.events), batched: bytesPerReceipt(chains.batched.receipts, chains.batched.events) };
        printTable(`ledger: verifying a chain of ${stored.single} receipts in memory (${keyType} keys), ${cpuRounds} interleaved rounds`, verifyRows);
        printTable(
          'The hash-only walk per receipt, part by part (one single-append receipt and its event, one thread)',
          Object.entries(parts).map(([part, perSec]) => ({ part, 'per second': perSec, 'µs each': round(1e6 / perSec, 2) })),
        );
        printTable(`ledger: receipt building (catchUp from an empty ledger) vs signed appends at concurrency ${concurrency}, ${rounds} interleaved rounds`, throughputRows);
        printTable('ledger: inclusion-proof verification', inclusionRows);
        printTable('ledger: read-side diagnostics (once)', [
          { measure: `inclusionProof() over ${serving.treeSize} leaves (as Ledger.inclusion makes a proof), median of ${serving.samples}`, ms: serving.inclusionProofMsMedian },
          { measure: `Ledger.inclusion() end to end (reads ${serving.treeSize} leaf hashes), median of ${serving.ledgerInclusionSamples}`, ms: serving.ledgerInclusionMsMedian },
          { measure: `verifyLedger, batched tenant, ${checkpointCost.withOneCheckpoint.checkpoints} checkpoints`, ms: checkpointCost.withOneCheckpoint.ms },
          { measure: `verifyLedger, same, ${checkpointCost.withCheckpointEveryN.checkpoints} checkpoints (one per ${checkpointCost.checkpointEvery})`, ms: checkpointCost.withCheckpointEveryN.ms },
          { measure: `the same ${checkpointCost.withCheckpointEveryN.checkpoints} roots in one incremental pass`, ms: checkpointCost.incrementalRootsMs },
        ]);

        const targets = [
          { name: 'verify hash-only / raw SHA-256 (single-append events)', value: ratios.hashOnlyOverRawSingle, target: '>= 0.40', met: ratios.hashOnlyOverRawSingle >= 0.4 },
          { name: 'verify hash-only / raw SHA-256 (batched events)', value: ratios.hashOnlyOverRawBatched, target: '>= 0.40', met: ratios.hashOnlyOverRawBatched >= 0.4 },
          { name: 'verify signatures / raw SHA-256 (single-append events)', value: ratios.signaturesOverRawSingle, target: 'reported', met: true, informational: true },
          { name: 'verify signatures / raw SHA-256 (batched events)', value: ratios.signaturesOverRawBatched, target: 'reported', met: true, informational: true },
          { name: 'verifyInclusion p99 (ms)', value: round(proofLatencyUs.p99 / 1000, 4), target: '< 0.5', met: proofLatencyUs.p99 < 500 },
          { name: 'verifyInclusion p50 in SHA-256s of 64 B', value: ratios.proofP50InHashes, target: 'reported', met: true, informational: true },
          { name: 'build / signed single appends', value: ratios.buildSingleOverAppendSingle, target: '>= 1', met: ratios.buildSingleOverAppendSingle >= 1 },
          { name: 'build / signed batched appends', value: ratios.buildBatchedOverAppendBatched, target: '>= 1', met: ratios.buildBatchedOverAppendBatched >= 1 },
        ];
        printTargets(targets);

        return writeReport({
          name: 'ledger',
          startedAt: startedAt.toISOString(),
          durationSec: round(elapsedMs(t0) / 1000, 1),
          environment,
          parameters: { events, stored, keyType, proofCount, concurrency, phaseMs, warmupMs, rounds, cpuRounds, schemas: [singleSchema, batchedSchema], checkpointEvery: single.ledger.settings.checkpointEvery },
          figures: { bytesPerReceipt: sizes, build, verify, verifyPartsPerSec: parts, inclusion: { latencyUs: proofLatencyUs, sha256Of64BytesUs: round(hashUs, 4), nodeHashUs: round(nodeHashUs, 4), passes: inclusion }, appends, diagnostics: { serving, checkpointCost }, sink: sink.value, tables: { verifyRows, throughputRows, inclusionRows } },
          ratios,
          targets,
        });
      } finally {
        await batched?.close();
        await single.close();
      }
    }),
  );
}
