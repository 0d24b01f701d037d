import { canonicalJson, type EventEnvelope } from '../../../contracts';
import type { Database } from '../../../src/database/database';
import { START } from '../../../src/eventstore/global-position';
import { PostgresEventStore } from '../../../src/eventstore/postgres/postgres-event-store';
import type { EventSigner } from '../../../src/signing/event-signer';
import { verifyStore } from '../../../src/signing/store-verifier';
import { sealedEvent, testSigner, uniqueStreamId } from '../../conformance/envelopes';
import { assertEmbeddedDatabaseCanStart, failureOf, hasAll, readAllUntil } from '../../conformance/helpers';
import { openEmbeddedTestDatabase, openServerTestDatabase } from '../../support/databases';
import { describeWithService } from '../../support/services';

/**
 * An attacker with the database's superuser rights edits stored events behind the store's
 * back. The append-only trigger stops plain UPDATE/DELETE; once it is disabled, the signature
 * and the canonical-bytes check are what catch the edit, and verifyStore names the event.
 */
function tamperSuite(openDatabase: () => Promise<Database>): void {
  let db: Database;
  let store: PostgresEventStore;
  let signer: EventSigner;
  let stored: EventEnvelope[];

  beforeAll(() => {
    signer = testSigner();
  });

  beforeEach(async () => {
    db = await openDatabase();
    store = new PostgresEventStore(db.knex);
    const [orders, invoices] = [uniqueStreamId('order'), uniqueStreamId('invoice')];
    stored = [
      sealedEvent(signer, orders, { type: 'orders.order-placed', data: { note: 'hello', amount: 100 } }),
      sealedEvent(signer, orders, { type: 'orders.order-paid', data: { note: 'paid in full', amount: 100 } }),
      sealedEvent(signer, orders, { type: 'orders.order-shipped', data: { note: 'by sea', carrier: 'ACME' } }),
      sealedEvent(signer, invoices, { type: 'invoices.invoice-issued', data: { note: 'net 30', lines: [{ sku: 'A-1', qty: 2 }] } }),
      sealedEvent(signer, invoices, { type: 'invoices.invoice-settled', data: { note: 'thanks', amount: 100 } }),
    ];
    await store.append(orders, stored.slice(0, 3), 'no-stream');
    await store.append(invoices, stored.slice(3), 'no-stream');
    // On a shared server, global reads wait for transactions other test files hold open; once
    // readable, an event stays readable, so every verifyStore below sees all five.
    await readAllUntil(store, START, 100, (read) => hasAll(read, stored.map((event) => event.id)));
  });

  afterEach(async () => {
    await db?.close();
  });

  async function storedText(eventId: string): Promise<string> {
    const result = await db.knex.raw<{ rows: Array<{ envelope: string }> }>('SELECT envelope FROM events WHERE event_id = ?', [eventId]);
    return result.rows[0].envelope;
  }

  /** What a superuser could do: switch the append-only trigger off, rewrite a row, switch it back on. */
  async function overwriteAsSuperuser(eventId: string, envelope: string): Promise<void> {
    await db.knex.transaction(async (trx) => {
      await trx.raw('ALTER TABLE events DISABLE TRIGGER events_append_only');
      await trx.raw('UPDATE events SET envelope = ? WHERE event_id = ?', [envelope, eventId]);
      await trx.raw('ALTER TABLE events ENABLE TRIGGER events_append_only');
    });
  }

  /** Replaces the one occurrence of `from` in the stored text and checks the change is `bytes` bytes. */
  async function edit(event: EventEnvelope, from: string, to: string): Promise<string> {
    const original = await storedText(event.id);
    expect(original.split(from)).toHaveLength(2);
    const tampered = original.replace(from, to);
    await overwriteAsSuperuser(event.id, tampered);
    return tampered;
  }

  const faultsOf = async () => (await verifyStore(store, signer, { batchSize: 2 })).faults.map(({ eventId, streamId, streamVersion, fault }) => ({ eventId, streamId, streamVersion, fault }));

  it('given untouched events, then verifyStore checks them all and finds nothing', async () => {
    const report = await verifyStore(store, signer, { batchSize: 2 });
    expect(report).toEqual({ checked: 5, faults: [] });
  });

  it("given one byte of one event's data changed, then verifyStore names exactly that event with data-hash-mismatch", async () => {
    const target = stored[0];

    const tampered = await edit(target, '"note":"hello"', '"note":"hellp"');

    expect(differingBytes(tampered, canonicalJson(target))).toBe(1);
    expect((await store.readStream(target.streamId))[0].raw).toBe(tampered);
    expect(await faultsOf()).toEqual([{ eventId: target.id, streamId: target.streamId, streamVersion: 0, fault: 'data-hash-mismatch' }]);
    expect((await verifyStore(store, signer)).checked).toBe(5);
  });

  it("given one character of one event's signature changed, then verifyStore names exactly that event with bad-signature", async () => {
    const target = stored[3];
    const value = target.metadata.signature.value;
    const position = Math.floor(value.length / 2);
    const replacement = value[position] === 'A' ? 'B' : 'A';

    const tampered = await edit(target, `"value":"${value}"`, `"value":"${value.slice(0, position)}${replacement}${value.slice(position + 1)}"`);

    expect(differingBytes(tampered, canonicalJson(target))).toBe(1);
    expect(await faultsOf()).toEqual([{ eventId: target.id, streamId: target.streamId, streamVersion: 0, fault: 'bad-signature' }]);
  });

  it("given one event's type changed (its data untouched), then verifyStore names exactly that event with bad-signature", async () => {
    const target = stored[1];

    const tampered = await edit(target, '"type":"orders.order-paid"', '"type":"orders.order-void"');

    expect(JSON.parse(tampered).data).toEqual(target.data);
    expect(await faultsOf()).toEqual([{ eventId: target.id, streamId: target.streamId, streamVersion: 1, fault: 'bad-signature' }]);
  });

  it("given one event's JSON re-formatted with whitespace (same values), then verifyStore names exactly that event as not-canonical", async () => {
    const target = stored[4];
    const reformatted = JSON.stringify(JSON.parse(await storedText(target.id)), null, 2);

    await overwriteAsSuperuser(target.id, reformatted);

    expect(JSON.parse(reformatted)).toEqual(target);
    expect(signer.verify(JSON.parse(reformatted))).toEqual({ valid: true });
    expect(await faultsOf()).toEqual([{ eventId: target.id, streamId: target.streamId, streamVersion: 1, fault: 'not-canonical' }]);
  });

  it('given several events tampered in different ways, then each is named once with its own fault and the rest pass', async () => {
    await edit(stored[0], '"note":"hello"', '"note":"jello"');
    await edit(stored[2], '"type":"orders.order-shipped"', '"type":"orders.order-shopped"');
    await overwriteAsSuperuser(stored[4].id, `${await storedText(stored[4].id)} `);

    const report = await verifyStore(store, signer, { batchSize: 2 });

    expect(report.checked).toBe(5);
    expect(report.faults.map(({ eventId, fault }) => ({ eventId, fault }))).toEqual([
      { eventId: stored[0].id, fault: 'data-hash-mismatch' },
      { eventId: stored[2].id, fault: 'bad-signature' },
      { eventId: stored[4].id, fault: 'not-canonical' },
    ]);
  });

  it('given the append-only trigger in place, then a plain UPDATE, DELETE or TRUNCATE is refused and nothing changes', async () => {
    const target = stored[2];

    const update = await failureOf(db.knex.raw(`UPDATE events SET envelope = replace(envelope, 'by sea', 'by air') WHERE event_id = ?`, [target.id]));
    const remove = await failureOf(db.knex.raw('DELETE FROM events WHERE event_id = ?', [target.id]));
    const truncate = await failureOf(db.knex.raw('TRUNCATE events'));

    for (const error of [update, remove, truncate]) {
      expect(error).toMatchObject({ code: '42501', message: expect.stringMatching(/append-only/) });
    }
    expect((await store.readStream(target.streamId)).map((recorded) => recorded.raw)).toEqual(stored.slice(0, 3).map(canonicalJson));
    expect(await verifyStore(store, signer)).toEqual({ checked: 5, faults: [] });
  });
}

/** How many bytes differ between two UTF-8 texts of the same byte length; -1 when the lengths differ. */
function differingBytes(a: string, b: string): number {
  const [left, right] = [Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')];
  if (left.length !== right.length) return -1;
  let count = 0;
  for (let index = 0; index < left.length; index++) if (left[index] !== right[index]) count++;
  return count;
}

describe('tampering with stored events [embedded PGlite]', () => {
  tamperSuite(async () => {
    assertEmbeddedDatabaseCanStart();
    return openEmbeddedTestDatabase();
  });
});

describeWithService('postgres', 'tampering with stored events', () => {
  tamperSuite(() => openServerTestDatabase());
});
