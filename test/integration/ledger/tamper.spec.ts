import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { Knex } from 'knex';
import { canonicalJson, type EventEnvelope, type JsonObject, type JsonValue } from '../../../contracts';
import type { PostgresEventStore } from '../../../src/eventstore/postgres/postgres-event-store';
import type { Ledger } from '../../../src/ledger/ledger';
import type { StoredReceipt } from '../../../src/ledger/ledger-repository';
import type { LedgerFaultKind } from '../../../src/ledger/ledger-verifier';
import { businessEvent, catchUpFully, disableAppendOnly, EmbeddedTemplate, freshSigning, ledgerOn, storeOn, type Signing } from './ledger-fixture';

/**
 * The tamper matrix. Each run builds a fresh ledger (20–36 events of the audited tenant, up to 8
 * of another tenant interleaved, checkpoints every 4–9 receipts, the builder run at random
 * moments) on a fresh in-memory database, then — as an attacker with superuser rights, the
 * append-only triggers switched off — applies ONE random mutation to the rows, and expects
 * `ledger.verify` to name the kind of fault and the first position it affects.
 */

const TENANT = 'tenant-audited';
const OTHER = 'tenant-bystander';
const RUNS_PER_KIND = 20;

interface EventRow {
  readonly eventId: string;
  readonly tenantId: string;
  readonly transactionId: string;
  readonly globalPosition: string;
  readonly envelope: string;
}

interface BuiltLedger {
  readonly db: Knex;
  readonly store: PostgresEventStore;
  readonly ledger: Ledger;
  /** The audited tenant's receipts, sequence = index. */
  readonly receipts: readonly StoredReceipt[];
  readonly checkpointSizes: readonly number[];
  readonly rows: ReadonlyMap<string, EventRow>;
  /** Every stored event of both tenants, in global order. */
  readonly allRows: readonly EventRow[];
}

interface Plan {
  readonly tenantEvents: number;
  /** Before which of the audited tenant's events each bystander event goes. */
  readonly bystanders: readonly number[];
  readonly checkpointEvery: number;
  readonly batchSize: number;
  readonly catchUpEvery: number;
}

const planArbitrary: fc.Arbitrary<Plan> = fc.record({
  tenantEvents: fc.integer({ min: 20, max: 36 }),
  bystanders: fc.array(fc.integer({ min: 0, max: 36 }), { maxLength: 8 }),
  checkpointEvery: fc.integer({ min: 4, max: 9 }),
  batchSize: fc.integer({ min: 2, max: 12 }),
  catchUpEvery: fc.integer({ min: 1, max: 8 }),
});

interface Expected {
  readonly kind: LedgerFaultKind;
  readonly position: number;
  readonly eventId?: string;
}

/** One kind of tampering: applies it to the built ledger at the place the picks choose and says what verify must report. */
interface Tampering {
  readonly name: string;
  readonly variants: readonly string[];
  apply(built: BuiltLedger, picks: { a: number; b: number; variant: string }): Promise<Expected>;
}

const tally = new Map<string, { runs: number; detected: number; kinds: Set<string> }>();

describe('tampering with the ledger rows: verify names the kind and the first bad position [embedded PGlite]', () => {
  let template: EmbeddedTemplate;
  let signing: Signing;

  beforeAll(async () => {
    template = await EmbeddedTemplate.create();
  });
  afterAll(async () => {
    await template?.close();
    const lines = [...tally].map(([name, t]) => `${name}: ${t.detected}/${t.runs} detected (${[...t.kinds].join(', ')})`);
    if (lines.length > 0) console.log(`ledger tamper matrix\n  ${lines.join('\n  ')}`);
  });

  async function buildLedger(plan: Plan): Promise<BuiltLedger> {
    // A key per ledger: the signer keeps the last head it signed per log, and a fresh database under the same key and origin is a fork it refuses.
    signing = freshSigning();
    const db = await template.fresh();
    const store = storeOn(db);
    const ledger = ledgerOn(db, store, signing, { instance: 'tamper', checkpointEvery: plan.checkpointEvery, batchSize: plan.batchSize });
    for (let i = 0; i < plan.tenantEvents; i++) {
      for (const _ of plan.bystanders.filter((at) => at === i)) await appendAlone(store, businessEvent(signing.signer, OTHER, { before: i }, `things-${OTHER}`));
      await appendAlone(store, businessEvent(signing.signer, TENANT, { n: i, amountCents: 100 * i, note: `event ${i}` }));
      if ((i + 1) % plan.catchUpEvery === 0) await ledger.builder.catchUp();
    }
    await catchUpFully(ledger.builder, db);
    const rowsResult = await db.raw(
      `SELECT event_id::text AS "eventId", tenant_id AS "tenantId", transaction_id::text AS "transactionId", global_position::text AS "globalPosition", envelope
       FROM events ORDER BY transaction_id, global_position`,
    );
    const allRows = rowsResult.rows as EventRow[];
    return {
      db,
      store,
      ledger,
      receipts: await ledger.repository.receipts(TENANT),
      checkpointSizes: (await ledger.repository.checkpoints(TENANT)).map((c) => c.treeSize),
      rows: new Map(allRows.map((row) => [row.eventId, row])),
      allRows,
    };
  }

  /** Each event in a transaction of its own, so a row can be slipped in just before any of them. */
  async function appendAlone(store: PostgresEventStore, event: EventEnvelope): Promise<void> {
    await store.append(event.streamId, [event], 'any');
  }

  function matrixRow(tampering: Tampering): void {
    it(`${tampering.name}: detected in every one of ${RUNS_PER_KIND} random runs, at the right first position`, async () => {
      const counts = { runs: 0, detected: 0, kinds: new Set<string>() };
      tally.set(tampering.name, counts);
      await fc.assert(
        fc.asyncProperty(planArbitrary, fc.nat(), fc.nat(), fc.constantFrom(...tampering.variants), async (plan, a, b, variant) => {
          const built = await buildLedger(plan);
          try {
            // given an intact ledger with a few checkpoints
            expect(await built.ledger.verify(TENANT)).toMatchObject({ ok: true, pendingEvents: 0, receipts: built.receipts.length });
            expect(built.checkpointSizes.length).toBeGreaterThanOrEqual(1);
            expect(built.receipts.length).toBeGreaterThanOrEqual(plan.tenantEvents + built.checkpointSizes.length);

            // when one row is tampered with
            await disableAppendOnly(built.db);
            const expected = await tampering.apply(built, { a, b, variant });

            // then verify names the kind and the first bad position, and the bystander's chain still verifies
            const result = await built.ledger.verify(TENANT);
            counts.runs++;
            if (!result.ok && result.fault?.kind === expected.kind && result.fault.position === expected.position) counts.detected++;
            if (!result.ok) counts.kinds.add(result.fault!.kind);
            expect(result).toMatchObject({ ok: false, fault: { kind: expected.kind, position: expected.position, ...(expected.eventId ? { eventId: expected.eventId } : {}) } });
            expect(await built.ledger.verify(OTHER)).toMatchObject({ ok: true });
          } finally {
            await built.db.destroy();
          }
        }),
        { numRuns: RUNS_PER_KIND },
      );
      expect(counts).toMatchObject({ runs: RUNS_PER_KIND, detected: RUNS_PER_KIND });
    }, 300_000);
  }

  matrixRow({
    name: "an event's data changed",
    variants: ['data value changed (re-signed hash not updated)', 'same values, re-formatted text'],
    async apply({ db, receipts, rows }, { a, variant }) {
      const k = a % receipts.length;
      const row = rows.get(receipts[k].eventId)!;
      const envelope = JSON.parse(row.envelope) as EventEnvelope;
      const tampered = variant.startsWith('data') ? canonicalJson({ ...envelope, data: changedData(envelope.data) }) : JSON.stringify(envelope, null, 1);
      expect(tampered).not.toBe(row.envelope);
      await db.raw('UPDATE events SET envelope = ? WHERE event_id = ?', [tampered, row.eventId]);
      // Re-formatted bytes parse to the signed values: what gives them away is that they are not the one canonical byte string.
      return { kind: variant.startsWith('data') ? 'altered' : 'not-canonical', position: k, eventId: row.eventId };
    },
  });

  matrixRow({
    name: 'an event deleted',
    variants: ['row deleted'],
    async apply({ db, receipts }, { a }) {
      const k = a % receipts.length;
      await db.raw('DELETE FROM events WHERE event_id = ?', [receipts[k].eventId]);
      return { kind: 'missing', position: k, eventId: receipts[k].eventId };
    },
  });

  matrixRow({
    name: 'two events swapped',
    variants: ['envelope texts swapped', 'positions swapped'],
    async apply({ db, receipts, rows }, { a, b, variant }) {
      const k = a % (receipts.length - 1);
      const j = k + 1 + (b % (receipts.length - 1 - k));
      const [first, second] = [rows.get(receipts[k].eventId)!, rows.get(receipts[j].eventId)!];
      if (variant.startsWith('envelope')) {
        await db.raw('UPDATE events SET envelope = ? WHERE event_id = ?', [second.envelope, first.eventId]);
        await db.raw('UPDATE events SET envelope = ? WHERE event_id = ?', [first.envelope, second.eventId]);
      } else {
        const move = (eventId: string, transactionId: string, globalPosition: string) =>
          db.raw('UPDATE events SET transaction_id = CAST(? AS xid8), global_position = ? WHERE event_id = ?', [transactionId, globalPosition, eventId]);
        await move(first.eventId, second.transactionId, `-${first.globalPosition}`);
        await move(second.eventId, first.transactionId, first.globalPosition);
        await move(first.eventId, second.transactionId, second.globalPosition);
      }
      return { kind: 'reordered', position: k, eventId: second.eventId };
    },
  });

  matrixRow({
    name: "an event's signature replaced",
    variants: ["another event's valid signature"],
    async apply({ db, receipts, rows, allRows }, { a, b }) {
      const k = a % receipts.length;
      const row = rows.get(receipts[k].eventId)!;
      const donors = allRows.filter((other) => other.eventId !== row.eventId);
      const donor = JSON.parse(donors[b % donors.length].envelope) as EventEnvelope;
      const envelope = JSON.parse(row.envelope) as EventEnvelope;
      expect(donor.metadata.signature.value).not.toBe(envelope.metadata.signature.value);
      const tampered = { ...envelope, metadata: { ...envelope.metadata, signature: donor.metadata.signature } };
      await db.raw('UPDATE events SET envelope = ? WHERE event_id = ?', [canonicalJson(tampered), row.eventId]);
      return { kind: 'bad-event-signature', position: k, eventId: row.eventId };
    },
  });

  matrixRow({
    name: 'a receipt altered',
    variants: ['event_hash', 'prev_hash', 'receipt_hash', 'leaf_hash', 'event_id', 'position_prepare', 'row deleted (not the last)'],
    async apply({ db, receipts }, { a, b, variant }) {
      if (variant.startsWith('row deleted')) {
        const k = a % (receipts.length - 1);
        await db.raw('DELETE FROM ledger_receipts WHERE tenant_id = ? AND sequence = ?', [TENANT, k]);
        return { kind: 'broken-chain', position: k };
      }
      const k = a % receipts.length;
      const current = await db.raw(`SELECT ${variant}::text AS value FROM ledger_receipts WHERE tenant_id = ? AND sequence = ?`, [TENANT, k]);
      const value = current.rows[0].value as string;
      const altered = variant === 'event_id' ? randomUUID() : variant === 'position_prepare' ? String(BigInt(value) + 1n) : flipHexDigit(value, b);
      await db.raw(`UPDATE ledger_receipts SET ${variant} = ? WHERE tenant_id = ? AND sequence = ?`, [altered, TENANT, k]);
      return { kind: 'broken-chain', position: k };
    },
  });

  matrixRow({
    name: 'the newest receipts removed',
    variants: ['rows deleted from the end of the chain'],
    async apply({ db, receipts }, { b }) {
      // Without a later receipt to break the link, what gives this away is the builder's position: it already passed these events.
      const removed = 1 + (b % receipts.length);
      const first = receipts.length - removed;
      await db.raw('DELETE FROM ledger_receipts WHERE tenant_id = ? AND sequence >= ?', [TENANT, first]);
      return { kind: 'broken-chain', position: first, eventId: receipts[first].eventId };
    },
  });

  matrixRow({
    name: "a checkpoint's root altered",
    variants: ['root_hash', 'signature_value'],
    async apply({ db, checkpointSizes, allRows }, { a, b, variant }) {
      const size = checkpointSizes[a % checkpointSizes.length];
      if (variant === 'root_hash') {
        const current = await db.raw(`SELECT root_hash FROM ledger_checkpoints WHERE tenant_id = ? AND tree_size = ?`, [TENANT, size]);
        await db.raw(`UPDATE ledger_checkpoints SET root_hash = ? WHERE tenant_id = ? AND tree_size = ?`, [flipHexDigit(current.rows[0].root_hash, b), TENANT, size]);
      } else {
        const donor = JSON.parse(allRows[b % allRows.length].envelope) as EventEnvelope;
        await db.raw(`UPDATE ledger_checkpoints SET signature_value = ? WHERE tenant_id = ? AND tree_size = ?`, [donor.metadata.signature.value, TENANT, size]);
      }
      return { kind: 'bad-checkpoint', position: size - 1 };
    },
  });

  matrixRow({
    name: 'an event inserted between receipted ones',
    variants: ['properly signed row slipped in before a receipted event'],
    async apply({ db, receipts, rows }, { a }) {
      const k = a % receipts.length;
      const before = rows.get(receipts[k].eventId)!;
      const inserted = businessEvent(signing.signer, TENANT, { smuggled: true, amountCents: 1 }, `things-${TENANT}.smuggled`);
      // Same transaction as event k, a lower sequence number: in global order it lands right before event k.
      await db.raw(
        `INSERT INTO events (global_position, transaction_id, event_id, stream_id, stream_version, tenant_id, event_type, schema_version, occurred_at, envelope)
         VALUES (?, CAST(? AS xid8), ?, ?, 0, ?, ?, 1, ?, ?)`,
        [-1, before.transactionId, inserted.id, inserted.streamId, TENANT, inserted.type, inserted.occurredAt, canonicalJson(inserted)],
      );
      const order = await tenantOrder(db);
      expect(order.indexOf(inserted.id)).toBe(order.indexOf(before.eventId) - 1);
      return { kind: 'inserted', position: k, eventId: inserted.id };
    },
  });
});

/** The audited tenant's event ids in global order, straight from the rows. */
async function tenantOrder(db: Knex): Promise<string[]> {
  const result = await db.raw(`SELECT event_id::text AS "eventId" FROM events WHERE tenant_id = ? ORDER BY transaction_id, global_position`, [TENANT]);
  return (result.rows as Array<{ eventId: string }>).map((row) => row.eventId);
}

/** The data with one value changed: a number incremented, a string's last character replaced, or a field added. */
function changedData(data: JsonObject): JsonObject {
  const [key, value] = Object.entries(data).sort(([x], [y]) => (x < y ? -1 : 1))[0] ?? [];
  if (key === undefined) return { tampered: true };
  const changed: JsonValue = typeof value === 'number' ? value + 1 : typeof value === 'string' ? `${value.slice(0, -1)}${value.endsWith('x') ? 'y' : 'x'}` : { was: value ?? null };
  return { ...data, [key]: changed };
}

/** Replaces one hex digit (chosen by `pick`) with a different one. */
function flipHexDigit(hex: string, pick: number): string {
  const index = pick % hex.length;
  const digit = hex[index] === '0' ? '1' : '0';
  return `${hex.slice(0, index)}${digit}${hex.slice(index + 1)}`;
}
