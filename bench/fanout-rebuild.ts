import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInfrastructure, type Infrastructure } from '../src/app/infrastructure';
import type { RecordedEvent } from '../src/eventstore/event-store.port';
import { START, type GlobalPosition } from '../src/eventstore/global-position';
import { applyBatch } from '../projections/runtime/apply-batch';
import { projected } from '../projections/runtime/in-process-runner';
import { createTables, dropTables, tablesOf } from '../projections/runtime/tables';
import { tenantActivityProjector } from '../projections/tenant-activity.projector';
import { servicesConfig } from './fanout-lag';
import { environmentInfo, withSchema } from './support/database';
import { nameAt, unsignedRenamed, workspaceStreamId } from './support/events';
import { elapsedMs, nowMs, printTable, printTargets, ratio, round, runLoad, writeReport, type BenchReport } from './support/kit';
import { runPasses, type PassResult } from './support/passes';

/**
 * Rebuilding a projection from the PostgreSQL server store directly (not through Kafka):
 * store.readAll in batches, each applied with applyBatch (rows, revision guard and position in
 * one transaction) to fresh tenant_activity tables, the loop `proofline projections rebuild`
 * runs; against the raw store.readAll of the same events, in interleaved rounds.
 */
export async function fanoutRebuild(): Promise<BenchReport> {
  const events = Number(process.env.BENCH_REBUILD_EVENTS ?? 50_000);
  const batchSize = Number(process.env.BENCH_REBUILD_BATCH ?? 2000);
  const appendBatch = Number(process.env.BENCH_REBUILD_APPEND_BATCH ?? 100);
  const tenants = Number(process.env.BENCH_REBUILD_TENANTS ?? 10);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const startedAt = new Date();
  const t0 = nowMs();
  const environment = await environmentInfo();

  return withSchema('fanout_rebuild', async (schema) => {
    const infra = await createInfrastructure(servicesConfig(schema), { ephemeralKeys: true });
    try {
      const knex = infra.database.knex;
      const setupStarted = nowMs();
      const stored = await storeSpreadEvents(infra, events, appendBatch, tenants);
      console.log(`  stored ${stored} events (${appendBatch} per signed append, one stream per append, ${tenants} tenants) in ${round(elapsedMs(setupStarted) / 1000, 1)} s`);
      await knex.raw('VACUUM ANALYZE events');

      const projector = tenantActivityProjector;
      const names = tablesOf(projector, 'shadow');
      const positionRow = `${projector.name}__bench_rebuild`;
      const fresh = async () => {
        await dropTables(knex, names);
        await createTables(knex, projector, 'shadow');
        await knex('projector_positions').where({ projector: positionRow }).delete();
      };
      const split = { readMs: 0, applyMs: 0, batches: 0 };

      const passes = await runPasses(
        [
          {
            name: 'raw readAll',
            run: async () => {
              let count = 0;
              for (let position: GlobalPosition = START; ; ) {
                const batch = await infra.store.readAll(position, batchSize);
                count += batch.length;
                if (batch.length < batchSize) return count;
                position = batch[batch.length - 1].position;
              }
            },
          },
          {
            name: 'rebuild (readAll + applyBatch)',
            before: fresh,
            run: async () => {
              let count = 0;
              for (let position: GlobalPosition = START; ; ) {
                const readStarted = performance.now();
                const batch = await infra.store.readAll(position, batchSize);
                const applyStarted = performance.now();
                if (batch.length > 0) await applyBatch(knex, projector, names, batch.map(projected), positionRow);
                split.readMs += applyStarted - readStarted;
                split.applyMs += performance.now() - applyStarted;
                split.batches++;
                count += batch.length;
                if (batch.length < batchSize) return count;
                position = batch[batch.length - 1].position;
              }
            },
          },
          {
            name: 'rebuild, next read during apply (diagnostic)',
            before: fresh,
            run: async () => {
              let count = 0;
              let next: Promise<RecordedEvent[]> = infra.store.readAll(START, batchSize);
              for (;;) {
                const batch = await next;
                if (batch.length === batchSize) next = infra.store.readAll(batch[batch.length - 1].position, batchSize);
                if (batch.length > 0) await applyBatch(knex, projector, names, batch.map(projected), positionRow);
                count += batch.length;
                if (batch.length < batchSize) return count;
              }
            },
          },
        ],
        { rounds, minRoundMs: 0, warmupRuns: 1 },
      );

      // The last run must have projected every event exactly once.
      const total = await knex(names.tables.daily).sum({ n: 'events' }).first();
      if (Number(total?.n) !== stored) throw new Error(`rebuild projected ${String(total?.n)} events, expected ${stored}`);

      // Where a rebuild batch's time goes, once, outside the timed rounds.
      const parts = await applyParts(infra, batchSize, positionRow, fresh);

      const rate = (r: PassResult) => r.itemsPerSec;
      const raw = rate(passes['raw readAll']);
      const rebuild = rate(passes['rebuild (readAll + applyBatch)']);
      const overlapped = rate(passes['rebuild, next read during apply (diagnostic)']);
      const ratios = { rebuildOverRawReadAll: ratio(rebuild, raw), overlappedOverRawReadAll: ratio(overlapped, raw) };
      const rows = Object.entries(passes).map(([name, r]) => ({
        pass: name,
        'events/s': r.itemsPerSec,
        'vs raw': ratio(r.itemsPerSec, raw),
        'µs/event': round(1e6 / r.itemsPerSec, 2),
        'round min/s': Math.min(...r.roundRates),
        'round max/s': Math.max(...r.roundRates),
        'node cpu %': r.cpu.nodePctOfCore,
        'pg cpu %': r.cpu.postgresPctOfCore,
        'other cpu %': r.cpu.otherPctOfCore,
        're-run': r.discardedRounds,
      }));
      printTable(`fanout-rebuild: ${stored} events from the PostgreSQL server store into fresh tenant_activity tables, batches of ${batchSize}, ${rounds} interleaved rounds`, rows);
      const splitTotal = split.readMs + split.applyMs;
      printTable('Inside the rebuild loop (all timed runs and its warm-up): readAll vs applyBatch', [
        { part: 'store.readAll (SQL + JSON.parse of each envelope)', 'ms per batch': round(split.readMs / split.batches, 2), share: ratio(split.readMs, splitTotal) },
        { part: 'applyBatch (one transaction)', 'ms per batch': round(split.applyMs / split.batches, 2), share: ratio(split.applyMs, splitTotal) },
      ]);
      printTable(`applyBatch of one ${batchSize}-event batch, step by step (median of ${parts.samples}, same SQL as applyBatch, fresh tables)`, parts.rows);

      const targets = [
        { name: 'rebuild events/s', value: rebuild, target: '>= 20000', met: rebuild >= 20_000 },
        { name: 'rebuild / raw readAll', value: ratios.rebuildOverRawReadAll, target: '>= 0.5', met: ratios.rebuildOverRawReadAll >= 0.5 },
        { name: 'rebuild with the next read overlapped / raw readAll', value: ratios.overlappedOverRawReadAll, target: 'reported', met: true, informational: true },
      ];
      printTargets(targets);

      return writeReport({
        name: 'fanout-rebuild',
        startedAt: startedAt.toISOString(),
        durationSec: round(elapsedMs(t0) / 1000, 1),
        environment,
        parameters: { events: stored, batchSize, appendBatch, tenants, rounds, schema, projector: projector.name, tables: 'shadow set (proj_tenant_activity_daily__rebuild), dropped and re-created before every run' },
        figures: { passes, loopSplit: { ...split, readMsPerBatch: round(split.readMs / split.batches, 2), applyMsPerBatch: round(split.applyMs / split.batches, 2) }, applyParts: parts, table: rows },
        ratios,
        targets,
      });
    } finally {
      await infra.close();
    }
  });
}

/**
 * `events` signed events (rounded up to whole appends of `appendBatch`), one fresh stream per
 * append, spread over `tenants` tenants, from 8 concurrent appenders.
 */
export async function storeSpreadEvents(infra: Infrastructure, events: number, appendBatch: number, tenants: number, concurrency = 8): Promise<number> {
  const appends = Math.ceil(events / appendBatch);
  const label = `spread-${randomBytes(3).toString('hex')}`;
  let next = 0;
  const result = await runLoad({ concurrency, durationMs: 3_600_000, maxOps: appends }, async () => {
    const n = next++;
    const tenantId = `tenant-bench-${n % tenants}`;
    const streamId = workspaceStreamId(`${label}-${n}`, tenantId);
    const envelopes = infra.signer.sealBatch(Array.from({ length: appendBatch }, (_, i) => unsignedRenamed(streamId, nameAt(i + 1), nameAt(i), tenantId)));
    await infra.store.append(streamId, envelopes, 'no-stream');
    return envelopes.length;
  });
  return result.events;
}

/** The steps of applyBatch on one batch, timed one by one with the same statements (a diagnostic; not how applyBatch is called). */
async function applyParts(infra: Infrastructure, batchSize: number, positionRow: string, fresh: () => Promise<void>) {
  const knex = infra.database.knex;
  const projector = tenantActivityProjector;
  const names = tablesOf(projector, 'shadow');
  const samples = 7;
  const times: Record<string, number[]> = {};
  const time = async <T>(part: string, fn: () => Promise<T> | T): Promise<T> => {
    const started = performance.now();
    const value = await fn();
    (times[part] ??= []).push(performance.now() - started);
    return value;
  };
  let position: GlobalPosition = START;
  for (let i = 0; i < samples; i++) {
    await fresh();
    const batch = await time('store.readAll (SQL + JSON.parse)', () => infra.store.readAll(position, batchSize));
    if (batch.length === 0) break;
    position = batch[batch.length - 1].position;
    await time('of which JSON.parse of the envelopes (again, alone)', () => batch.map((event) => JSON.parse(event.raw)));
    const events = batch.map(projected);
    await time('applyBatch as a whole', () => applyBatch(knex, projector, names, events, positionRow));
    await fresh();
    await time('step by step, whole transaction (BEGIN … COMMIT)', () => stepByStep(events));
  }
  async function stepByStep(events: ReturnType<typeof projected>[]) {
    await knex.transaction(async (trx) => {
      await time('advisory xact lock', () => trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [12345]));
      const streams = [...new Set(events.map((event) => event.envelope.streamId))];
      await time('load guard (whereIn streams)', () => trx(names.guard).whereIn('stream_id', streams).select('stream_id', 'version'));
      await time('projector.apply in a savepoint', () => trx.transaction((savepoint) => projector.apply(events, { trx: savepoint, tables: names.tables })));
      const latest = new Map<string, number>();
      for (const event of events) latest.set(event.envelope.streamId, Math.max(latest.get(event.envelope.streamId) ?? -1, event.streamVersion));
      await time('save guard (upsert per stream)', () =>
        trx(names.guard)
          .insert([...latest].map(([stream_id, version]) => ({ stream_id, version })))
          .onConflict('stream_id')
          .merge(),
      );
      await time('save position (upsert)', () =>
        trx.raw(
          `INSERT INTO projector_positions (projector, position_commit, position_prepare, applied, state, updated_at) VALUES (?, ?, ?, ?, 'running', now())
           ON CONFLICT (projector) DO UPDATE SET position_commit = EXCLUDED.position_commit, position_prepare = EXCLUDED.position_prepare, applied = projector_positions.applied + EXCLUDED.applied, updated_at = now()`,
          [positionRow, String(position.commit), String(position.prepare), events.length],
        ),
      );
    });
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const rows = Object.entries(times).map(([part, values]) => ({ part, 'ms (median)': round(median(values), 2), 'µs/event': round((median(values) * 1000) / batchSize, 2) }));
  await fresh();
  return { samples, rows };
}
