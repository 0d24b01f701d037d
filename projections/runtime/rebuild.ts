import type { Knex } from 'knex';
import type { EventStore } from '../../src/eventstore/event-store.port';
import { START, type GlobalPosition } from '../../src/eventstore/global-position';
import { applyBatch, projectorLockKey } from './apply-batch';
import { projected } from './in-process-runner';
import type { Projector } from './projector';
import { checksumOf, createTables, dropTables, tablesOf } from './tables';

export interface RebuildProgress {
  readonly events: number;
  readonly position: GlobalPosition;
}

export interface RebuildOptions {
  readonly batchSize?: number;
  readonly onProgress?: (progress: RebuildProgress) => void;
  /**
   * False when nothing else can write the projection meanwhile (the embedded database is held by
   * this process alone): the final catch-up then happens outside the switch-over transaction.
   */
  readonly liveRunnersMayExist?: boolean;
}

export interface RebuildOutcome {
  readonly events: number;
  readonly checksum: string;
  readonly position: GlobalPosition;
}

/**
 * Blue/green: replays the store (directly, not through Kafka) into shadow tables while queries
 * keep reading the live ones, then switches over in one transaction that holds the projector's
 * lock — the same lock every live batch takes — so no live batch lands in between. Inside it,
 * the shadow catches up with the last events and its tables, revision guard and position take
 * the live ones' place. Events the live runner sees afterwards and the shadow already applied
 * are no-ops for the guard it inherits.
 */
export async function rebuildProjection(knex: Knex, store: EventStore, projector: Projector, options: RebuildOptions = {}): Promise<RebuildOutcome> {
  const batchSize = options.batchSize ?? 2000;
  const shadowRow = `${projector.name}__rebuild`;
  const shadow = tablesOf(projector, 'shadow');
  await dropTables(knex, shadow);
  await knex('projector_positions').where({ projector: shadowRow }).delete();
  await createTables(knex, projector, 'shadow');

  let position = START;
  let events = 0;
  const replay = async (into: Knex) => {
    for (;;) {
      const batch = await store.readAll(position, batchSize);
      if (batch.length === 0) return;
      const outcome = await applyBatch(into, projector, shadow, batch.map(projected), shadowRow);
      if (outcome.stoppedAt) {
        // A projector that stops on a failing event must not be switched over with the rest of its history missing.
        throw new Error(`rebuild of ${projector.name} stopped at event ${outcome.stoppedAt.eventId}: ${outcome.stoppedAt.error}; the live tables are unchanged (see projection_dead_letters)`);
      }
      position = batch[batch.length - 1].position;
      events += batch.length;
      options.onProgress?.({ events, position });
      if (batch.length < batchSize) return;
    }
  };
  await replay(knex);

  await knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [projectorLockKey(projector.name)]);
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
