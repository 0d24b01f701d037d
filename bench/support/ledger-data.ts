import type { Knex } from 'knex';
import * as ledgerMigration from '../../migrations/0002_ledger';
import type { Infrastructure } from '../../src/app/infrastructure';
import { START } from '../../src/eventstore/global-position';
import type { RecordedEvent } from '../../src/eventstore/event-store.port';
import type { StoredReceipt } from '../../src/ledger/ledger-repository';
import { signedAppends } from './appenders';
import { runLoad } from './load';

/** Ledger fixtures: a tenant's events written as real appends, its receipts and events in memory, a fresh ledger. */

/** Appends `events` signed events (rounded up to whole appends of `batchSize`) with 16 concurrent appenders. */
export async function storeEvents(infra: Infrastructure, events: number, batchSize: number): Promise<number> {
  const appends = Math.ceil(events / batchSize);
  const result = await runLoad({ concurrency: 16, durationMs: 3_600_000, maxOps: appends }, signedAppends(infra.store, infra.signer, batchSize, `ledger${batchSize}`));
  return result.events;
}

/** The ledger tables dropped and re-created by their own migration: a builder starting from nothing, over the same events. */
export async function resetLedger(knex: Knex): Promise<void> {
  await ledgerMigration.down(knex);
  await ledgerMigration.up(knex);
}

/** The tenant's first `count` receipts and the events they name (the stored ones, in global order). */
export async function loadTenant(infra: Infrastructure, tenantId: string, count: number): Promise<{ receipts: StoredReceipt[]; events: RecordedEvent[] }> {
  const receipts = (await infra.ledger.repository.receipts(tenantId, 0, count)).slice(0, count);
  const events: RecordedEvent[] = [];
  let position = START;
  while (events.length < count) {
    const batch = await infra.store.readAll(position, 1000, { tenantId });
    events.push(...batch);
    if (batch.length < 1000) break;
    position = batch[batch.length - 1].position;
  }
  if (receipts.length < count || events.length < count) throw new Error(`tenant ${tenantId}: ${receipts.length} receipts and ${events.length} events, expected ${count}`);
  return { receipts, events: events.slice(0, count) };
}
