import type { Knex } from 'knex';
import { newEventId } from '../../../contracts';
import type { Database } from '../../../src/database/database';
import type { EventStore } from '../../../src/eventstore/event-store.port';
import { LedgerRepository, type StoredReceipt } from '../../../src/ledger/ledger-repository';
import { leafHash } from '../../../src/ledger/merkle';
import { GENESIS_PREV_HASH, receiptBytes, receiptFor } from '../../../src/ledger/receipt';
import { openEmbeddedTestDatabase, openServerTestDatabase } from '../../support/databases';
import { describeWithService } from '../../support/services';
import {
  allReceipts,
  builderOn,
  catchUpUntilReceipted,
  disableAppendOnly,
  enableAppendOnly,
  freshSigning,
  isCheckpointEvent,
  ledgerOn,
  settledCatchUp,
  storeOn,
  tenantEvents,
  type Signing,
} from './ledger-fixture';

const TENANTS = ['tenant-det-a', 'tenant-det-b', 'tenant-det-c', 'tenant-det-d'];
const EVENTS = 320;

/**
 * A receipt depends only on its event's stored bytes, its position and the receipt before it:
 * wipe the ledger tables and rebuild from the stream, and every receipt comes back bit for bit.
 */
function determinismSuite(open: () => Promise<Database>): void {
  let db: Database;
  let knex: Knex;
  let store: EventStore;
  let signing: Signing;
  let original: StoredReceipt[];
  let originalCheckpoints: unknown[];

  const checkpointRows = async () => (await knex.raw(`SELECT * FROM ledger_checkpoints ORDER BY tenant_id, tree_size`)).rows.map(stringified);

  beforeAll(async () => {
    db = await open();
    knex = db.knex;
    store = storeOn(knex);
    signing = freshSigning();
    // given a few hundred events of four tenants, receipted in batches of 37 with a checkpoint every 25 receipts
    const builder = builderOn(knex, store, signing, { checkpointEvery: 25, batchSize: 37 });
    const appended: string[] = [];
    for (let chunk = 0; chunk < EVENTS / 40; chunk++) {
      for (let i = 0; i < 40; i++) {
        const n = chunk * 40 + i;
        const tenantId = TENANTS[(n * 7 + (n >> 3)) % TENANTS.length];
        const streamId = `things-${tenantId}.${n % 5}`;
        const event = businessEventFor(tenantId, streamId, n);
        appended.push(event.id);
        await store.append(streamId, [event], 'any');
      }
      await catchUpUntilReceipted(builder, knex, appended);
    }
    await catchUpUntilReceipted(builder, knex, appended);
    await settledCatchUp(builder, knex); // the last checkpoints' own events
    original = await allReceipts(knex);
    originalCheckpoints = await checkpointRows();
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  function businessEventFor(tenantId: string, streamId: string, n: number) {
    const commandId = `cmd-${n}`;
    return signing.signer.seal({
      id: newEventId(),
      type: 'things.thing-happened',
      schemaVersion: 1,
      streamId,
      tenantId,
      occurredAt: new Date(Date.UTC(2026, 10, 21, 12, 0, 0, n)).toISOString(),
      actor: { id: 'determinism', role: 'ADMIN' },
      data: { n, note: `event ${n}`, unicode: 'Grüße, 日本' },
      metadata: { correlationId: commandId, causationId: commandId, commandId },
    });
  }

  it('given the built ledger, then it has every event of every tenant and several checkpoints', async () => {
    const events = await tenantEvents(store);
    expect(original).toHaveLength(events.length);
    expect(events.length).toBeGreaterThan(EVENTS);
    expect(originalCheckpoints.length).toBeGreaterThanOrEqual(8);
    for (const tenantId of TENANTS) expect(await ledgerOn(knex, store, signing).verify(tenantId)).toMatchObject({ ok: true, pendingEvents: 0 });
  });

  it('given the events read back from the store, then the pure receiptFor reproduces every stored receipt', async () => {
    const repository = new LedgerRepository(knex);
    for (const tenantId of TENANTS) {
      const stored = await repository.receipts(tenantId);
      const events = await tenantEvents(store, tenantId);
      let prevHash = GENESIS_PREV_HASH;
      const recomputed = events.map((event, sequence) => {
        const receipt = receiptFor(event, sequence, prevHash);
        prevHash = receipt.receiptHash;
        return { ...receipt, leafHash: leafHash(receiptBytes(receipt)).toString('hex') };
      });
      expect(recomputed).toEqual(stored);
    }
  });

  it('given every receipt, checkpoint and the progress row deleted, when a fresh builder rebuilds from the stream, then every receipt hash comes back bit for bit', async () => {
    const checkpointEventsBefore = (await tenantEvents(store)).filter(isCheckpointEvent).length;

    await disableAppendOnly(knex);
    await knex.raw('DELETE FROM ledger_receipts');
    await knex.raw('DELETE FROM ledger_checkpoints');
    await knex.raw('DELETE FROM ledger_progress');
    await enableAppendOnly(knex);
    expect(await allReceipts(knex)).toEqual([]);

    // No new checkpoints may interfere: the checkpoint events already in the store are receipted like any other.
    const rebuilder = builderOn(knex, store, signing, { batchSize: 53 }, () => new Date('2030-01-01T00:00:00.000Z'));
    await catchUpUntilReceipted(rebuilder, knex, original.map((r) => r.eventId));
    expect(await settledCatchUp(rebuilder, knex)).toEqual({ receipts: 0, checkpoints: 0 });

    const rebuilt = await allReceipts(knex);
    expect(rebuilt.map((r) => r.receiptHash)).toEqual(original.map((r) => r.receiptHash));
    expect(rebuilt).toEqual(original);
    expect(await checkpointRows()).toEqual(originalCheckpoints);
    expect((await tenantEvents(store)).filter(isCheckpointEvent)).toHaveLength(checkpointEventsBefore);
    for (const tenantId of TENANTS) expect(await ledgerOn(knex, store, signing).verify(tenantId)).toMatchObject({ ok: true, pendingEvents: 0 });
  }, 60_000);
}

/** A row with its bigints and timestamps as text, so pg and PGlite rows compare alike. */
function stringified(row: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, value instanceof Date ? value.toISOString() : String(value)]));
}

describe('rebuilding the ledger is deterministic [embedded PGlite]', () => {
  determinismSuite(openEmbeddedTestDatabase);
});

describeWithService('postgres', 'rebuilding the ledger is deterministic', () => {
  determinismSuite(() => openServerTestDatabase());
});
