import { randomUUID } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import knex, { type Knex } from 'knex';
import ClientPGLite from 'knex-pglite';
import { newEventId, type EventEnvelope, type JsonObject } from '../../../contracts';
import { migrationSource } from '../../../migrations';
import type { EventStore, RecordedEvent } from '../../../src/eventstore/event-store.port';
import { START } from '../../../src/eventstore/global-position';
import { PostgresEventStore } from '../../../src/eventstore/postgres/postgres-event-store';
import { CHECKPOINT_EVENT_TYPE } from '../../../src/ledger/checkpoint';
import { Ledger } from '../../../src/ledger/ledger';
import { LedgerRepository, type StoredReceipt } from '../../../src/ledger/ledger-repository';
import { ReceiptBuilder, type LedgerSettings } from '../../../src/ledger/receipt-builder';
import { EventSigner } from '../../../src/signing/event-signer';
import { KeyRegistry } from '../../../src/signing/key-registry';
import { assertEmbeddedDatabaseCanStart, sleep } from '../../conformance/helpers';

/** Shared by the ledger suites: keys, signed events, a builder driven by hand, and an attacker's tools. */

export const LEDGER_TABLES = ['events', 'ledger_receipts', 'ledger_checkpoints'] as const;

export interface Signing {
  readonly keys: KeyRegistry;
  readonly signer: EventSigner;
}

/** A fresh in-memory Ed25519 key registry and the signer over it. */
export function freshSigning(): Signing {
  const keys = KeyRegistry.open({ keyType: 'ed25519' });
  return { keys, signer: new EventSigner(keys) };
}

/** Settings that never issue a checkpoint on their own: the test decides when. */
export const NO_AUTOMATIC_CHECKPOINTS: LedgerSettings = { instance: 'proofline-test', checkpointEvery: 1_000_000, checkpointIntervalMs: 24 * 3600_000 };

export function builderOn(knex: Knex, store: EventStore, signing: Signing, settings: Partial<LedgerSettings> = {}, clock?: () => Date): ReceiptBuilder {
  return new ReceiptBuilder(knex, store, signing.signer, signing.keys, { ...NO_AUTOMATIC_CHECKPOINTS, ...settings }, clock);
}

export function ledgerOn(knex: Knex, store: EventStore, signing: Signing, settings: Partial<LedgerSettings> = {}): Ledger {
  return new Ledger(knex, store, signing.signer, signing.keys, { ...NO_AUTOMATIC_CHECKPOINTS, ...settings });
}

/** One signed business event of `tenantId`, as the command pipeline would produce it. */
export function businessEvent(signer: EventSigner, tenantId: string, data: JsonObject, streamId = `things-${tenantId}`): EventEnvelope {
  const commandId = randomUUID();
  return signer.seal({
    id: newEventId(),
    type: 'things.thing-happened',
    schemaVersion: 1,
    streamId,
    tenantId,
    occurredAt: new Date().toISOString(),
    actor: { id: 'ledger-test', role: 'ADMIN' },
    data,
    metadata: { correlationId: commandId, causationId: commandId, commandId },
  });
}

/** Appends one event in its own transaction (so it has a transaction id of its own) and returns it. */
export async function appendOne(store: EventStore, signer: EventSigner, tenantId: string, data: JsonObject): Promise<EventEnvelope> {
  const event = businessEvent(signer, tenantId, data);
  await store.append(event.streamId, [event], 'any');
  return event;
}

/** Appends `tenants[i]`'s i-th event for every entry, one transaction each, in that order. */
export async function appendInterleaved(store: EventStore, signer: EventSigner, tenants: readonly string[]): Promise<EventEnvelope[]> {
  const appended: EventEnvelope[] = [];
  for (const [index, tenantId] of tenants.entries()) appended.push(await appendOne(store, signer, tenantId, { n: index, note: `event ${index} of ${tenantId}` }));
  return appended;
}

/**
 * Waits until every committed event is readable in global order. On a shared server, global
 * reads stop below the oldest transaction still open anywhere (other test files hold some open
 * on purpose); a builder run before then would receipt only part of what the test appended.
 */
export async function allReadable(db: Knex, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await db.raw(
      `SELECT count(*)::int AS stored, count(*) FILTER (WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot()))::int AS readable FROM events`,
    );
    const { stored, readable } = result.rows[0] as { stored: number; readable: number };
    if (stored === readable) return;
    if (Date.now() > deadline) throw new Error(`${stored - readable} committed events still not readable in global order`);
    await sleep(20);
  }
}

/** One builder round once everything committed is readable, so its outcome is exact on a shared server too. */
export async function settledCatchUp(builder: ReceiptBuilder, db: Knex): Promise<{ receipts: number; checkpoints: number }> {
  await allReadable(db);
  return builder.catchUp();
}

/** Runs catchUp until a round receipts nothing and issues nothing: every event is receipted, every due checkpoint is in. */
export async function catchUpFully(builder: ReceiptBuilder, db: Knex, maxRounds = 50): Promise<{ receipts: number; checkpoints: number }> {
  const total = { receipts: 0, checkpoints: 0 };
  for (let round = 0; round < maxRounds; round++) {
    const outcome = await settledCatchUp(builder, db);
    total.receipts += outcome.receipts;
    total.checkpoints += outcome.checkpoints;
    if (outcome.receipts === 0 && outcome.checkpoints === 0) return total;
  }
  throw new Error(`the builder was still busy after ${maxRounds} rounds`);
}

/**
 * On a shared server, global reads wait below transactions other test files hold open; runs
 * catchUp until every event in `eventIds` has a receipt (or the time is up).
 */
export async function catchUpUntilReceipted(builder: ReceiptBuilder, db: Knex, eventIds: readonly string[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await builder.catchUp();
    const missing = await unreceipted(db, eventIds);
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${missing.length} events still have no receipt, e.g. ${missing[0]}`);
    await sleep(20);
  }
}

async function unreceipted(db: Knex, eventIds: readonly string[]): Promise<string[]> {
  const rows = await db.raw(`SELECT event_id::text AS event_id FROM ledger_receipts`);
  const receipted = new Set((rows.rows as Array<{ event_id: string }>).map((row) => row.event_id));
  return eventIds.filter((id) => !receipted.has(id));
}

/** Every event of `tenantId` readable now, in global order. */
export async function tenantEvents(store: EventStore, tenantId?: string): Promise<RecordedEvent[]> {
  return store.readAll(START, 100_000, tenantId === undefined ? {} : { tenantId });
}

export function isCheckpointEvent(event: RecordedEvent | EventEnvelope): boolean {
  return ('envelope' in event ? event.envelope : event).type === CHECKPOINT_EVENT_TYPE;
}

export async function allReceipts(db: Knex): Promise<StoredReceipt[]> {
  const rows = await db.raw(`SELECT DISTINCT tenant_id FROM ledger_receipts ORDER BY tenant_id`);
  const repository = new LedgerRepository(db);
  const receipts: StoredReceipt[] = [];
  for (const { tenant_id } of rows.rows as Array<{ tenant_id: string }>) receipts.push(...(await repository.receipts(tenant_id)));
  return receipts;
}

/** What an attacker with superuser rights does first: switch off the append-only triggers. */
export async function disableAppendOnly(db: Knex): Promise<void> {
  for (const table of LEDGER_TABLES) await db.raw(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
}

export async function enableAppendOnly(db: Knex): Promise<void> {
  for (const table of LEDGER_TABLES) await db.raw(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
}

/**
 * A migrated, empty in-memory PGlite to clone: a clone is a fresh database in a fraction of the
 * time a cold start with migrations takes, which is what lets the tamper matrix use one per run.
 */
export class EmbeddedTemplate {
  private constructor(
    private readonly template: PGlite,
    private readonly connection: Knex,
  ) {}

  static async create(): Promise<EmbeddedTemplate> {
    assertEmbeddedDatabaseCanStart();
    const template = new PGlite();
    const connection = pgliteKnex(template);
    await connection.migrate.latest({ migrationSource });
    return new EmbeddedTemplate(template, connection);
  }

  /** A fresh database with the schema and nothing else; destroy the Knex to close it. */
  async fresh(): Promise<Knex> {
    return pgliteKnex((await this.template.clone()) as PGlite);
  }

  close(): Promise<void> {
    return this.connection.destroy();
  }
}

function pgliteKnex(pglite: PGlite): Knex {
  return knex({ client: ClientPGLite, connection: { pglite } } as Knex.Config);
}

export function storeOn(db: Knex): PostgresEventStore {
  return new PostgresEventStore(db);
}
