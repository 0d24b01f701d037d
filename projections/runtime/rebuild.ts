import type { Knex } from 'knex';
import type { EventStore } from '../../src/eventstore/event-store.port';
import { ProoflineError } from '../../src/errors/proofline-error';
import { START, type GlobalPosition } from '../../src/eventstore/global-position';
import { AdvisoryLease } from '../../src/fanout/lease';
import { applyBatch, domainsOf, projectorLockKey } from './apply-batch';
import { faultFor, projected } from './in-process-runner';
import type { Projector } from './projector';
import { checksumOf, createTables, dropTables, tablesOf } from './tables';

export interface RebuildProgress {
  readonly events: number;
  readonly position: GlobalPosition;
}

export interface RebuildOptions {
  readonly batchSize?: number;
  /** Called after each committed batch; the next batch waits for a returned promise. */
  readonly onProgress?: (progress: RebuildProgress) => void | Promise<void>;
  /**
   * False when nothing else can write the projection meanwhile (the embedded database is held by
   * this process alone): the final catch-up then happens outside the switch-over transaction, and
   * the rebuild lock is this process's alone (no advisory lock: PGlite has one connection).
   */
  readonly liveRunnersMayExist?: boolean;
}

export interface RebuildOutcome {
  readonly events: number;
  readonly checksum: string;
  readonly position: GlobalPosition;
}

/** A second rebuild of a projector while one runs: refused, since both would build (and drop) the same shadow tables. */
export class RebuildInProgressError extends ProoflineError {
  constructor(projector: string, where: string) {
    super('PROJECTION.REBUILD_IN_PROGRESS', `a rebuild of projector ${projector} is already running (${where}); nothing was changed. Wait for it to finish, then rebuild again if needed`, 409, {
      projector,
    });
  }
}

/** Rebuilds running in this process on the embedded database, by projector (it has no second process, and no advisory lock across sessions). */
const rebuildingHere = new Set<string>();

/**
 * Blue/green: replays the store (directly, not through Kafka) into shadow tables while queries
 * keep reading the live ones, then switches over in one transaction that holds the projector's
 * lock — the same lock every live batch takes — so no live batch lands in between. Inside it,
 * the shadow catches up with the last events and its tables, revision guard and position take
 * the live ones' place. Events the live runner sees afterwards and the shadow already applied
 * are no-ops for the guard it inherits.
 */
export async function rebuildProjection(knex: Knex, store: EventStore, projector: Projector, options: RebuildOptions = {}): Promise<RebuildOutcome> {
  const onServer = options.liveRunnersMayExist ?? true;
  if (!onServer && rebuildingHere.has(projector.name)) throw new RebuildInProgressError(projector.name, 'in this process');
  if (!onServer) rebuildingHere.add(projector.name);
  let lease: AdvisoryLease | undefined;
  try {
    if (onServer) {
      // Other processes may rebuild too: one session advisory lock per projector (and DATABASE_SCHEMA), held on its own session for the whole rebuild.
      await knex.raw('SELECT 1'); // an unreachable database fails here with its own error, not as "in progress"
      lease = new AdvisoryLease(knex, `projection.rebuild.${projector.name}`);
      if (!(await lease.tryAcquire())) throw new RebuildInProgressError(projector.name, 'another session holds its rebuild lock');
    }
    return await rebuildHoldingLock(knex, store, projector, options, lease);
  } finally {
    await lease?.release();
    if (!onServer) rebuildingHere.delete(projector.name);
  }
}

async function rebuildHoldingLock(knex: Knex, store: EventStore, projector: Projector, options: RebuildOptions, lease: AdvisoryLease | undefined): Promise<RebuildOutcome> {
  const batchSize = options.batchSize ?? 2000;
  const shadowRow = `${projector.name}__rebuild`;
  const shadow = tablesOf(projector, 'shadow');
  await dropTables(knex, shadow);
  await knex('projector_positions').where({ projector: shadowRow }).delete();
  await createTables(knex, projector, 'shadow');

  const domains = domainsOf(projector);
  let position = START;
  let events = 0;
  const replay = async (into: Knex) => {
    for (;;) {
      const batch = await store.readAll(position, batchSize);
      if (batch.length === 0) return;
      // The relay's rule holds for a rebuild too: a row it would not publish is never applied.
      const bad = batch.map((event) => faultFor(domains, event)).find((fault) => fault !== undefined);
      if (bad) throw new Error(`rebuild of ${projector.name} stopped at a bad row: ${bad.code}: ${bad.message}; the live tables are unchanged`);
      const outcome = await applyBatch(into, projector, shadow, batch.map(projected), shadowRow);
      if (outcome.stoppedAt) {
        // A projector that stops on a failing event must not be switched over with the rest of its history missing.
        throw new Error(`rebuild of ${projector.name} stopped at event ${outcome.stoppedAt.eventId}: ${outcome.stoppedAt.error}; the live tables are unchanged (see projection_dead_letters)`);
      }
      position = batch[batch.length - 1].position;
      events += batch.length;
      await options.onProgress?.({ events, position });
      if (batch.length < batchSize) return;
    }
  };
  await replay(knex);

  await knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [projectorLockKey(projector.name)]);
    if (lease) {
      // Fencing: with the shadow tables locked by this transaction no one can drop them until it ends, and a rebuild
      // lock still held now was held throughout (a lost lock is never given back to its session), so no other
      // rebuild has touched these shadow tables. A lock lost meanwhile (session ended, frozen past its lifetime) aborts.
      await lease.check(); // first, so a lost lock is reported as such rather than as a shadow table gone
      for (const table of [...Object.values(shadow.tables), shadow.guard]) await trx.raw('LOCK TABLE ?? IN ACCESS EXCLUSIVE MODE', [table]);
      await lease.check();
    }
    // The store is read on its own connection, so it sees what live runners could have applied; their batches wait on the lock.
    if (options.liveRunnersMayExist ?? true) await replay(trx);
    await switchOver(trx, projector, shadowRow);
  });
  if (!(options.liveRunnersMayExist ?? true)) await replay(knex);
  return { events, position, checksum: await checksumOf(knex, projector) };
}

async function switchOver(trx: Knex.Transaction, projector: Projector, shadowRow: string): Promise<void> {
  const live = tablesOf(projector, 'live');
  const shadow = tablesOf(projector, 'shadow');
  for (const [table, shadowName] of [...Object.entries(shadow.tables), ['__guard', shadow.guard] as const]) {
    const liveName = table === '__guard' ? live.guard : live.tables[table];
    await trx.schema.dropTableIfExists(liveName);
    await trx.schema.renameTable(shadowName, liveName);
    // Index names (the primary key's too) live in the schema's namespace: carry them over, or the next rebuild's shadow collides.
    const indexes = await trx.raw(`SELECT indexname FROM pg_indexes WHERE tablename = ? AND schemaname = current_schema()`, [liveName]);
    for (const { indexname } of indexes.rows as Array<{ indexname: string }>) {
      if (indexname.includes(shadowName)) await trx.raw('ALTER INDEX ?? RENAME TO ??', [indexname, indexname.replace(shadowName, liveName)]);
    }
  }
  const rebuilt = await trx('projector_positions').where({ projector: shadowRow }).first();
  await trx('projector_positions').where({ projector: projector.name }).delete();
  if (rebuilt) {
    await trx('projector_positions').insert({ ...rebuilt, projector: projector.name, state: 'running', last_error: null, updated_at: trx.fn.now() });
    await trx('projector_positions').where({ projector: shadowRow }).delete();
  }
}
