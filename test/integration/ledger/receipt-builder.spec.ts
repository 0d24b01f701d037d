import type { Knex } from 'knex';
import type { Database } from '../../../src/database/database';
import { ProoflineError } from '../../../src/errors/proofline-error';
import type { EventStore } from '../../../src/eventstore/event-store.port';
import { uniqueViolationOf } from '../../../src/eventstore/postgres/database-errors';
import { comparePositions, formatPosition, parsePosition } from '../../../src/eventstore/global-position';
import { checkpointBytes, originOf } from '../../../src/ledger/checkpoint';
import { LedgerRepository, type StoredReceipt } from '../../../src/ledger/ledger-repository';
import { leafHash, rootFromLeafHashes } from '../../../src/ledger/merkle';
import { GENESIS_PREV_HASH, receiptBytes, receiptFor, sha256Hex } from '../../../src/ledger/receipt';
import { verifyBytes } from '../../../src/signing/detached-signature';
import { failureOf } from '../../conformance/helpers';
import { openEmbeddedTestDatabase, openServerTestDatabase } from '../../support/databases';
import { describeWithService } from '../../support/services';
import {
  allReadable,
  appendInterleaved,
  appendOne,
  builderOn,
  businessEvent,
  catchUpFully,
  catchUpUntilReceipted,
  freshSigning,
  isCheckpointEvent,
  ledgerOn,
  settledCatchUp,
  storeOn,
  tenantEvents,
  type Signing,
} from './ledger-fixture';

const A = 'tenant-builder-a';
const B = 'tenant-builder-b';
const C = 'tenant-builder-c';

function receiptBuilderSuite(open: () => Promise<Database>): void {
  let db: Database;
  let knex: Knex;
  let store: EventStore;
  let repository: LedgerRepository;
  let signing: Signing;

  beforeEach(async () => {
    // A key per test: each test has a fresh database, and one signer over two databases with the same origin is a fork it refuses.
    signing = freshSigning();
    db = await open();
    knex = db.knex;
    store = storeOn(knex);
    repository = new LedgerRepository(knex);
  });
  afterEach(async () => {
    await db?.close();
  });

  /** The tenant's events in global order, once everything committed is readable (a shared server may lag). */
  async function readableEvents(tenantId: string) {
    await allReadable(knex);
    return tenantEvents(store, tenantId);
  }

  /** Every receipt of the tenant is the pure receiptFor of its i-th event, linked to the one before. */
  async function expectChainOverStore(tenantId: string): Promise<StoredReceipt[]> {
    const receipts = await repository.receipts(tenantId);
    const events = await readableEvents(tenantId);
    expect(receipts.map((r) => r.eventId)).toEqual(events.map((e) => e.envelope.id));
    let prevHash = GENESIS_PREV_HASH;
    receipts.forEach((receipt, sequence) => {
      const expected = receiptFor(events[sequence], sequence, prevHash);
      expect(receipt).toEqual({ ...expected, leafHash: leafHash(receiptBytes(expected)).toString('hex') });
      expect(receipt.receiptHash).toBe(sha256Hex(receiptBytes(receipt)));
      prevHash = receipt.receiptHash;
    });
    return receipts;
  }

  describe('the chain', () => {
    it('given events of one tenant, when the builder catches up, then they get receipts 0..n-1 in global order, linked by hash from 64 zeros', async () => {
      const appended = await appendInterleaved(store, signing.signer, [A, A, A, A, A, A, A]);
      const builder = builderOn(knex, store, signing, { batchSize: 3 });

      await catchUpUntilReceipted(builder, knex, appended.map((e) => e.id));

      const receipts = await expectChainOverStore(A);
      expect(receipts.map((r) => r.sequence)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(receipts.map((r) => r.eventId)).toEqual(appended.map((e) => e.id));
      expect(receipts[0].prevHash).toBe('0'.repeat(64));
      for (let i = 1; i < receipts.length; i++) {
        expect(receipts[i].prevHash).toBe(receipts[i - 1].receiptHash);
        expect(comparePositions(parsePosition(receipts[i - 1].position), parsePosition(receipts[i].position))).toBe(-1);
      }
      expect(await ledgerOn(knex, store, signing).verify(A)).toMatchObject({ ok: true, receipts: 7, events: 7, pendingEvents: 0 });
    });

    it('given two tenants interleaved, then each gets its own chain from sequence 0 and genesis, naming only its own events', async () => {
      const order = [A, B, B, A, B, A, A, B, A, B, B, B, A];
      const appended = await appendInterleaved(store, signing.signer, order);
      const builder = builderOn(knex, store, signing, { batchSize: 4 });

      await catchUpUntilReceipted(builder, knex, appended.map((e) => e.id));

      for (const tenantId of [A, B]) {
        const own = appended.filter((e) => e.tenantId === tenantId).map((e) => e.id);
        const receipts = await expectChainOverStore(tenantId);
        expect(receipts.map((r) => r.eventId)).toEqual(own);
        expect(receipts.map((r) => r.sequence)).toEqual(own.map((_, i) => i));
        expect(receipts.every((r) => r.tenantId === tenantId)).toBe(true);
        expect(receipts[0].prevHash).toBe(GENESIS_PREV_HASH);
        expect(await ledgerOn(knex, store, signing).verify(tenantId)).toMatchObject({ ok: true, receipts: own.length });
      }
    });

    it('given more events after a first round, when a new builder (a restart) catches up, then the chains continue where they stopped', async () => {
      const first = await appendInterleaved(store, signing.signer, [A, B, A, A, A, A, A, A, A, A, A, A]); // past sequence 10, where text order and number order part
      await catchUpUntilReceipted(builderOn(knex, store, signing), knex, first.map((e) => e.id));
      const second = await appendInterleaved(store, signing.signer, [B, A, A, B]);

      await catchUpUntilReceipted(builderOn(knex, store, signing, { batchSize: 2 }), knex, second.map((e) => e.id));

      expect((await expectChainOverStore(A)).map((r) => r.sequence)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      expect((await expectChainOverStore(B)).map((r) => r.sequence)).toEqual([0, 1, 2]);
      expect(await ledgerOn(knex, store, signing).verify(A)).toMatchObject({ ok: true, receipts: 13 });
    });
  });

  describe('atomic batches', () => {
    it('given two builders racing on one database while events keep arriving, then every event is receipted exactly once and the chains hold', async () => {
      const tenants = [A, B, C];
      const appended: string[] = [];
      let appending = true;
      const appender = (async () => {
        for (let i = 0; i < 60; i++) appended.push((await appendOne(store, signing.signer, tenants[i % 3], { n: i })).id);
        appending = false;
      })();
      // A losing builder's batch is rolled back: the position row moved under it (LEDGER.CONCURRENT_BUILDER),
      // or a receipt of it collided with the winner's — same (tenant, sequence) when its cached chain head was
      // behind, same event when it read the position just before the winner moved it (a unique violation).
      const rollbacks: string[] = [];
      const race = async (settings: { batchSize: number }) => {
        const builder = builderOn(knex, store, signing, settings);
        while (appending) {
          try {
            await builder.catchUp();
          } catch (error) {
            rollbacks.push(error instanceof ProoflineError ? error.code : `unique:${uniqueViolationOf(error)}`);
          }
        }
        return builder;
      };

      await Promise.all([race({ batchSize: 2 }), race({ batchSize: 3 }), appender]);
      await catchUpUntilReceipted(builderOn(knex, store, signing), knex, appended);

      const receipts = await knex.raw(`SELECT event_id::text AS event_id FROM ledger_receipts`);
      const receiptedIds = (receipts.rows as Array<{ event_id: string }>).map((row) => row.event_id);
      expect(new Set(receiptedIds).size).toBe(receiptedIds.length);
      expect(receiptedIds.sort()).toEqual([...appended].sort());
      for (const tenantId of tenants) {
        const chain = await expectChainOverStore(tenantId);
        expect(chain).toHaveLength(20);
        expect(await ledgerOn(knex, store, signing).verify(tenantId)).toMatchObject({ ok: true, receipts: 20, pendingEvents: 0 });
      }
      expect(rollbacks.filter((reason) => !['LEDGER.CONCURRENT_BUILDER', 'unique:ledger_receipts_pkey', 'unique:ledger_receipts_event_unique'].includes(reason))).toEqual([]);
    }, 60_000);

    it('given an event that does not verify, then its tenant halts at it with LEDGER.UNVERIFIABLE_EVENT, receipts nothing of that tenant from it on, and stays halted', async () => {
      const good = await appendInterleaved(store, signing.signer, [A, A]);
      const forged = { ...businessEvent(signing.signer, A, { amount: 100 }) };
      const tampered = { ...forged, data: { amount: 1_000_000 } };
      await store.append(tampered.streamId, [tampered], 'any');
      const after = await appendOne(store, signing.signer, A, { amount: 5 });
      const ledger = ledgerOn(knex, store, signing, { batchSize: 2 });

      await catchUpFully(ledger.builder, knex);

      expect(await repository.halt(A)).toMatchObject({ code: 'LEDGER.UNVERIFIABLE_EVENT', eventId: tampered.id });
      expect((await repository.halt(A))?.message).toContain('data-hash-mismatch');
      const receipted = (await repository.receipts(A)).map((r) => r.eventId);
      expect(receipted).toEqual(good.map((e) => e.id));
      expect(receipted).not.toContain(tampered.id);
      expect(receipted).not.toContain(after.id);

      await catchUpFully(builderOn(knex, store, signing), knex);
      expect(await repository.size(A)).toBe(2);
      expect(await ledger.status(A)).toMatchObject({ builder: 'halted' });
    });
  });

  describe('a stored copy of a signed event (a plain INSERT, which the append-only trigger allows)', () => {
    /** Stores `eventId`'s signed envelope once more, under a fresh row id at the end of its stream: its signature still verifies. */
    async function insertCopyOf(eventId: string): Promise<void> {
      await knex.raw(
        `INSERT INTO events (event_id, stream_id, stream_version, tenant_id, event_type, schema_version, occurred_at, envelope)
         SELECT gen_random_uuid(), stream_id, (SELECT max(stream_version) + 1 FROM events e WHERE e.stream_id = events.stream_id), tenant_id, event_type, schema_version, occurred_at, envelope
         FROM events WHERE event_id = ?`,
        [eventId],
      );
    }

    it('given the original is receipted, then the tenant halts naming the copy (not a concurrent builder), and verify reports it as inserted', async () => {
      const [original] = await appendInterleaved(store, signing.signer, [A, A]);
      await catchUpFully(builderOn(knex, store, signing), knex);
      await insertCopyOf(original.id);
      const copy = (await readableEvents(A))[2];
      expect(copy.envelope.id).toBe(original.id);

      // The copy sits in a row filed under another event id: it is refused as misfiled before any receipt is written.
      await catchUpFully(builderOn(knex, store, signing), knex);
      const halt = await repository.halt(A);
      expect(halt).toMatchObject({ code: 'LEDGER.UNVERIFIABLE_EVENT', eventId: copy.storedAs.eventId });
      expect(halt?.message).toContain('misfiled');
      expect(halt?.message).toContain(copy.storedAs.eventId);
      expect(await repository.size(A)).toBe(2);
      // The builder passed the copy and halted there: verify names it by its own fault (filed under another id).
      expect(await ledgerOn(knex, store, signing).verify(A)).toMatchObject({ ok: false, fault: { kind: 'altered', position: 2, eventId: copy.storedAs.eventId } });
    });

    it('given the original and the copy in one batch, then the original is receipted, the tenant halts at the copy, and another tenant goes on', async () => {
      const [original] = await appendInterleaved(store, signing.signer, [A]);
      await insertCopyOf(original.id);
      const [other] = await appendInterleaved(store, signing.signer, [B]);
      await catchUpFully(builderOn(knex, store, signing), knex);
      expect(await repository.halt(A)).toMatchObject({ code: 'LEDGER.UNVERIFIABLE_EVENT' });
      expect((await repository.receipts(A)).map((r) => r.eventId)).toEqual([original.id]);
      expect((await repository.receipts(B)).map((r) => r.eventId)).toEqual([other.id]);
    });
  });

  describe('checkpoints', () => {
    it('given checkpointEvery = 5, then a checkpoint is issued once 5 new receipts are in, and the checkpoint events do not count towards the next', async () => {
      const builder = builderOn(knex, store, signing, { checkpointEvery: 5 });
      const sizes = async () => (await repository.checkpoints(A)).map((c) => c.treeSize);

      await appendInterleaved(store, signing.signer, [A, A, A, A]);
      expect(await catchUpFully(builder, knex)).toEqual({ receipts: 4, checkpoints: 0 });
      await appendOne(store, signing.signer, A, { n: 5 });
      expect(await catchUpFully(builder, knex)).toEqual({ receipts: 2, checkpoints: 1 }); // the 5th event, then the checkpoint event
      expect(await sizes()).toEqual([5]);

      await appendInterleaved(store, signing.signer, [A, A, A, A]);
      expect(await catchUpFully(builder, knex)).toEqual({ receipts: 4, checkpoints: 0 });
      await appendOne(store, signing.signer, A, { n: 10 });
      expect(await catchUpFully(builder, knex)).toEqual({ receipts: 2, checkpoints: 1 });

      expect(await sizes()).toEqual([5, 11]);
      expect((await repository.latestCheckpoint(A))?.treeSize).toBe(11);
      expect(await repository.size(A)).toBe(12);
    });

    it('given the checkpoint interval passes on the injected clock, then one checkpoint is issued, and none while nothing new happens however long', async () => {
      let now = Date.parse('2026-11-21T12:00:00.000Z');
      const builder = builderOn(knex, store, signing, { checkpointEvery: 1000, checkpointIntervalMs: 10_000 }, () => new Date(now));
      const checkpointEvents = async () => (await readableEvents(A)).filter(isCheckpointEvent).length;
      await appendInterleaved(store, signing.signer, [A, A, A]);

      expect(await settledCatchUp(builder, knex)).toEqual({ receipts: 3, checkpoints: 0 });
      now += 9_999;
      expect(await settledCatchUp(builder, knex)).toEqual({ receipts: 0, checkpoints: 0 });
      now += 1;
      expect(await settledCatchUp(builder, knex)).toEqual({ receipts: 0, checkpoints: 1 });

      const history: number[] = [];
      for (let round = 0; round < 20; round++) {
        now += 60_000;
        await settledCatchUp(builder, knex);
        history.push(await checkpointEvents());
      }
      expect(history).toEqual(Array(20).fill(1));
      const [checkpoint] = await repository.checkpoints(A);
      expect(checkpoint).toMatchObject({ treeSize: 3, issuedAt: '2026-11-21T12:00:10.000Z' });
      expect(await repository.size(A)).toBe(4); // three events and the checkpoint's own

      // The interval runs from the last checkpoint: after a quiet spell longer than it, new activity is anchored in the same round.
      await appendOne(store, signing.signer, A, { n: 4 });
      expect(await settledCatchUp(builder, knex)).toEqual({ receipts: 1, checkpoints: 1 });
      for (let round = 0; round < 10; round++) {
        now += 3600_000;
        await settledCatchUp(builder, knex);
      }
      expect((await repository.checkpoints(A)).map((c) => c.treeSize)).toEqual([3, 5]);
      expect(await checkpointEvents()).toBe(2);
    });

    it('given a builder restarted between a checkpoint and its receipt, then checkpoints still stop: no endless checkpoints of checkpoints', async () => {
      let now = Date.parse('2026-11-21T12:00:00.000Z');
      const clock = () => new Date(now);
      const settings = { checkpointEvery: 3, checkpointIntervalMs: 1_000 };
      await appendInterleaved(store, signing.signer, [A, A, A, B]);
      expect(await settledCatchUp(builderOn(knex, store, signing, settings, clock), knex)).toMatchObject({ checkpoints: 1 });

      const counts: number[] = [];
      for (let restart = 0; restart < 8; restart++) {
        now += 5_000;
        await catchUpFully(builderOn(knex, store, signing, settings, clock), knex);
        counts.push((await readableEvents(A)).filter(isCheckpointEvent).length);
      }

      expect(counts[counts.length - 1]).toBe(counts[counts.length - 4]);
      expect(counts[counts.length - 1]).toBeLessThanOrEqual(2);
      expect(await ledgerOn(knex, store, signing).verify(A)).toMatchObject({ ok: true, pendingEvents: 0 });
    });

    it("given checkpoints, then each root is the Merkle root of the receipts it covers, its signature verifies, and its event is recorded in ledger_checkpoints", async () => {
      const builder = builderOn(knex, store, signing, { checkpointEvery: 4, batchSize: 3 });
      for (let round = 0; round < 4; round++) {
        await appendInterleaved(store, signing.signer, [A, B, A, A, B, A]);
        await catchUpFully(builder, knex);
      }

      for (const tenantId of [A, B]) {
        const checkpoints = await repository.checkpoints(tenantId);
        expect(checkpoints.length).toBeGreaterThanOrEqual(2);
        const receipts = await repository.receipts(tenantId);
        const events = new Map((await readableEvents(tenantId)).map((e) => [e.envelope.id, e]));
        for (const { eventId, ...checkpoint } of checkpoints) {
          const covered = receipts.slice(0, checkpoint.treeSize).map((r) => leafHash(receiptBytes(r)));
          expect(covered).toHaveLength(checkpoint.treeSize);
          expect(checkpoint.rootHash).toBe(rootFromLeafHashes(covered).toString('hex'));
          expect(checkpoint.origin).toBe(originOf('proofline-test', tenantId));
          expect(verifyBytes(signing.keys, checkpointBytes(checkpoint)!, checkpoint.signature, 'checkpoint')).toEqual({ valid: true });

          const event = events.get(eventId)!;
          expect(event).toBeDefined();
          expect(isCheckpointEvent(event)).toBe(true);
          expect(event.envelope.streamId).toBe(`ledger-${tenantId}`);
          expect(event.envelope.data).toEqual(checkpoint);
          expect(signing.signer.verify(event.envelope)).toEqual({ valid: true });
          expect(receipts.find((r) => r.eventId === eventId)!.sequence).toBeGreaterThanOrEqual(checkpoint.treeSize);
        }
        const recorded = (await readableEvents(tenantId)).filter(isCheckpointEvent).map((e) => e.envelope.id);
        expect(checkpoints.map((c) => c.eventId)).toEqual(recorded);
      }
    });

    it('given a tenant with a single uncovered receipt when the builder restarts, then it is still checkpointed once the interval passes', async () => {
      let now = Date.parse('2026-11-21T12:00:00.000Z');
      const clock = () => new Date(now);
      const settings = { checkpointEvery: 100, checkpointIntervalMs: 10_000 };
      await appendInterleaved(store, signing.signer, [B]);
      expect(await settledCatchUp(builderOn(knex, store, signing, settings, clock), knex)).toEqual({ receipts: 1, checkpoints: 0 });

      const restarted = builderOn(knex, store, signing, settings, clock);
      expect(await settledCatchUp(restarted, knex)).toEqual({ receipts: 0, checkpoints: 0 });
      now += 10_000;
      expect(await settledCatchUp(restarted, knex)).toEqual({ receipts: 0, checkpoints: 1 });
      await catchUpFully(restarted, knex);

      expect((await repository.checkpoints(B)).map((c) => c.treeSize)).toEqual([1]);
    });

    it('given no receipts yet, or none since the last checkpoint, then checkpointNow issues nothing', async () => {
      const builder = builderOn(knex, store, signing);
      expect(await builder.checkpointNow(A)).toBeUndefined();
      await appendInterleaved(store, signing.signer, [A, A]);
      await catchUpFully(builder, knex);
      const checkpoint = await builder.checkpointNow(A);
      expect(checkpoint).toMatchObject({ treeSize: 2 });
      expect(await builder.checkpointNow(A)).toBeUndefined();
      await catchUpFully(builder, knex);
      expect((await repository.checkpoints(A)).map((c) => c.treeSize)).toEqual([2]);
    });
  });

  describe('append-only at the database level', () => {
    it('given receipts and checkpoints, then UPDATE, DELETE and TRUNCATE on both tables are refused and nothing changes', async () => {
      const builder = builderOn(knex, store, signing);
      await appendInterleaved(store, signing.signer, [A, A, A]);
      await catchUpFully(builder, knex);
      await builder.checkpointNow(A);
      await catchUpFully(builder, knex);
      const before = { receipts: await repository.receipts(A), checkpoints: await repository.checkpoints(A) };
      expect(before.checkpoints).toHaveLength(1);

      const attempts = [
        `UPDATE ledger_receipts SET prev_hash = receipt_hash WHERE sequence = 1`,
        `DELETE FROM ledger_receipts WHERE sequence = 2`,
        `TRUNCATE ledger_receipts`,
        `UPDATE ledger_checkpoints SET root_hash = repeat('0', 64)`,
        `DELETE FROM ledger_checkpoints`,
        `TRUNCATE ledger_checkpoints`,
      ];
      for (const statement of attempts) {
        const error = await failureOf(knex.raw(statement));
        expect({ statement, error }).toMatchObject({ statement, error: { code: '42501', message: expect.stringMatching(/append-only/) } });
      }

      expect({ receipts: await repository.receipts(A), checkpoints: await repository.checkpoints(A) }).toEqual(before);
      expect(await ledgerOn(knex, store, signing).verify(A)).toMatchObject({ ok: true });
    });
  });

  it('given an event, then its receipt records the global position the store reports for it', async () => {
    const [event] = await appendInterleaved(store, signing.signer, [A]);
    await catchUpUntilReceipted(builderOn(knex, store, signing), knex, [event.id]);
    const [recorded] = await readableEvents(A);
    expect((await repository.receipt(A, 0))?.position).toBe(formatPosition(recorded.position));
  });
}

describe('ReceiptBuilder [embedded PGlite]', () => {
  receiptBuilderSuite(openEmbeddedTestDatabase);
});

describeWithService('postgres', 'ReceiptBuilder', () => {
  receiptBuilderSuite(() => openServerTestDatabase());
});
