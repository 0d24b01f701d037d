import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { EventSigner } from '../src/signing/event-signer';
import { KeyRegistry } from '../src/signing/key-registry';
import { appendStatement } from '../src/eventstore/postgres/append-sql';
import { presignedAppends } from './support/appenders';
import { environmentInfo, openInfrastructure, withSchema } from './support/database';
import { BENCH_TENANT, rawRowOf, unsignedRenamed, workspaceStreamId } from './support/events';
import { elapsedMs, nowMs, printTable, ratio, round, runPhases, writeReport, type BenchReport, type LoadResult, type Operation } from './support/kit';
import { createRawEventsTable } from './support/raw-events';

/**
 * Diagnostic (not run by default): where a single-event append's cost goes on the server.
 * From a plain INSERT to the store's full statement, one ingredient at a time, all with one
 * event per statement, the same rows, the same concurrency. Reports PostgreSQL and Node CPU
 * per event, so a missed throughput target can be pinned on the statement or on the client.
 */
export async function appendSqlBreakdown(): Promise<BenchReport> {
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
  const phaseMs = Number(process.env.BENCH_PHASE_MS ?? 4000);
  const warmupMs = Number(process.env.BENCH_WARMUP_MS ?? 500);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const startedAt = new Date();
  const t0 = nowMs();
  const environment = await environmentInfo();

  return withSchema('append_sql', async (schema) => {
    const infra = await openInfrastructure(schema, { keyType: 'ed25519', poolSize: Math.max(20, concurrency + 4) });
    try {
      const knex = infra.database.knex;
      await createRawEventsTable(knex);
      await knex.raw('CREATE TABLE raw_streams (LIKE streams INCLUDING ALL)');
      const signer = new EventSigner(KeyRegistry.open({ keyType: 'ed25519' }));
      const template = signer.seal(unsignedRenamed(workspaceStreamId('template'), 'Acme Research Workspace (renamed)', 'Acme Research Workspace'));

      const variant = (label: string, sql: (v: number) => string, bindings: (row: ReturnType<typeof rawRowOf>, v: number) => unknown[], withStreamRow = false) =>
        sqlVariant(knex, template, label, sql, bindings, concurrency, withStreamRow);
      const jsonRow = (r: ReturnType<typeof rawRowOf>) =>
        JSON.stringify([{ idx: 0, event_id: r.event_id, event_type: r.event_type, schema_version: r.schema_version, occurred_at: r.occurred_at, envelope: r.envelope }]);
      const columns = 'event_id, stream_id, stream_version, tenant_id, event_type, schema_version, occurred_at, envelope';
      const returning = 'RETURNING transaction_id::text AS commit, global_position::text AS prepare, stream_version::text AS stream_version';
      const fromJson = `FROM jsonb_to_recordset(CAST(? AS jsonb))
        AS e(idx bigint, event_id uuid, event_type text, schema_version integer, occurred_at timestamptz, envelope text)`;
      const streamUpdate = `UPDATE raw_streams SET version = version + 1, updated_at = now() WHERE stream_id = ? AND tenant_id = ? AND version = ? RETURNING version`;

      const phases = [
        {
          name: 'A plain INSERT ... VALUES',
          prepare: () => variant('a', () => `INSERT INTO raw_events (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ${returning}`, (r) => [r.event_id, r.stream_id, r.stream_version, r.tenant_id, r.event_type, r.schema_version, r.occurred_at, r.envelope]),
        },
        {
          name: 'B INSERT ... FROM jsonb_to_recordset',
          prepare: () =>
            variant(
              'b',
              () => `INSERT INTO raw_events (${columns}) SELECT e.event_id, ?, ?, ?, e.event_type, e.schema_version, e.occurred_at, e.envelope ${fromJson} ${returning}`,
              (r) => [r.stream_id, r.stream_version, r.tenant_id, jsonRow(r)],
            ),
        },
        {
          name: 'C B + UPDATE of the stream row (CTE)',
          prepare: () =>
            variant(
              'c',
              () => `WITH stream AS (${streamUpdate})
                INSERT INTO raw_events (${columns}) SELECT e.event_id, ?, stream.version, ?, e.event_type, e.schema_version, e.occurred_at, e.envelope
                FROM stream CROSS JOIN jsonb_to_recordset(CAST(? AS jsonb))
                  AS e(idx bigint, event_id uuid, event_type text, schema_version integer, occurred_at timestamptz, envelope text) ${returning}`,
              (r, v) => [r.stream_id, BENCH_TENANT, v, r.stream_id, BENCH_TENANT, jsonRow(r)],
              true,
            ),
        },
        {
          name: 'D C + advisory lock',
          prepare: () =>
            variant(
              'd',
              () => `WITH serialized AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtextextended(CAST(? AS text), 0))),
                stream AS (UPDATE raw_streams SET version = version + 1, updated_at = now() FROM serialized WHERE stream_id = ? AND tenant_id = ? AND version = ? RETURNING version)
                INSERT INTO raw_events (${columns}) SELECT e.event_id, ?, stream.version, ?, e.event_type, e.schema_version, e.occurred_at, e.envelope
                FROM stream CROSS JOIN jsonb_to_recordset(CAST(? AS jsonb))
                  AS e(idx bigint, event_id uuid, event_type text, schema_version integer, occurred_at timestamptz, envelope text) ${returning}`,
              (r, v) => [r.stream_id, r.stream_id, BENCH_TENANT, v, r.stream_id, BENCH_TENANT, jsonRow(r)],
              true,
            ),
        },
        { name: "E the store's statement (appendStatement), via knex.raw", prepare: () => storeStatement(knex, template) },
        {
          name: 'F store.append (pre-signed envelopes)',
          prepare: (done: Readonly<Record<string, LoadResult>>) =>
            presignedAppends(infra.store, signer, 1, concurrency, Math.ceil((done['A plain INSERT ... VALUES'].eventsPerSec * (phaseMs + warmupMs * rounds) * 1.1 * (rounds + 2) / rounds) / 1000 / concurrency) + 1),
        },
      ];
      const results = await runPhases(phases, { concurrency, durationMs: phaseMs, warmupMs }, rounds);
      const raw = results['A plain INSERT ... VALUES'];
      const perEventUs = (pct: number, r: LoadResult) => round(((pct / 100) * 1e6) / r.eventsPerSec, 1);
      const rows = Object.entries(results).map(([name, r]) => ({
        variant: name,
        'events/s': r.eventsPerSec,
        'vs A': ratio(r.eventsPerSec, raw.eventsPerSec),
        'p50 ms': r.latency.p50,
        'pg µs/event': perEventUs(r.cpu.postgresPctOfCore, r),
        'node µs/event': perEventUs(r.cpu.nodePctOfCore, r),
        'pg cpu %': r.cpu.postgresPctOfCore,
        'node cpu %': r.cpu.nodePctOfCore,
        'other cpu %': r.cpu.otherPctOfCore,
        're-run': r.noise.discardedRounds,
      }));
      printTable(`append-sql-breakdown: one event per statement, ${concurrency} concurrent writers, ${rounds} interleaved rounds`, rows);
      const ratios = Object.fromEntries(Object.entries(results).map(([name, r]) => [name, ratio(r.eventsPerSec, raw.eventsPerSec)]));
      return writeReport({
        name: 'append-sql-breakdown',
        startedAt: startedAt.toISOString(),
        durationSec: round(elapsedMs(t0) / 1000, 1),
        environment,
        parameters: { concurrency, phaseMs, warmupMs, rounds, schema },
        figures: { phases: results, table: rows },
        ratios,
        targets: [],
      });
    } finally {
      await infra.close();
    }
  });
}

/** A hand-written statement per event on the raw tables; `withStreamRow` seeds each worker's raw_streams row. */
function sqlVariant(
  knex: Knex,
  template: Parameters<typeof rawRowOf>[0],
  label: string,
  sql: (v: number) => string,
  bindings: (row: ReturnType<typeof rawRowOf>, expectedVersion: number) => unknown[],
  concurrency: number,
  withStreamRow: boolean,
): Promise<Operation> {
  const prefix = `${label}-${randomBytes(3).toString('hex')}`;
  const versions = new Map<number, number>();
  const op: Operation = async (worker) => {
    const streamId = workspaceStreamId(`${prefix}-${worker}`);
    const last = versions.get(worker) ?? 0;
    const row = rawRowOf(template, streamId, last + 1);
    const result = await knex.raw(sql(last), bindings(row, last) as Knex.RawBinding[]);
    if (result.rows.length !== 1) throw new Error(`variant ${label}: expected one row back`);
    versions.set(worker, last + 1);
    return 1;
  };
  if (!withStreamRow) return Promise.resolve(op);
  const seed = Array.from({ length: concurrency }, (_, worker) => ({ stream_id: workspaceStreamId(`${prefix}-${worker}`), tenant_id: BENCH_TENANT, version: 0 }));
  return knex('raw_streams')
    .insert(seed)
    .then(() => op);
}

/** The store's exact SQL (with its current stream step), without the store's JavaScript around it. */
function storeStatement(knex: Knex, template: Parameters<typeof rawRowOf>[0]): Operation {
  const prefix = `e-${randomBytes(3).toString('hex')}`;
  const versions = new Map<number, number>();
  return async (worker) => {
    const streamId = workspaceStreamId(`${prefix}-${worker}`);
    const last = versions.get(worker) ?? -1;
    const r = rawRowOf(template, streamId, last + 1);
    const row = { idx: 0, event_id: r.event_id, event_type: r.event_type, schema_version: r.schema_version, occurred_at: r.occurred_at, envelope: r.envelope };
    const statement = appendStatement(streamId, BENCH_TENANT, last < 0 ? 'no-stream' : last, [row]);
    const result = await knex.raw(statement.sql, statement.bindings as Knex.RawBinding[]);
    if (result.rows.length !== 1) throw new Error('store statement: expected one row back');
    versions.set(worker, last + 1);
    return 1;
  };
}
