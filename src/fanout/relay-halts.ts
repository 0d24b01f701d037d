import type { Knex } from 'knex';
import type { RecordedEvent } from '../eventstore/event-store.port';
import { formatPosition, type GlobalPosition } from '../eventstore/global-position';
import { misfiledFault, storedBytesFault } from '../signing/stored-event';

/**
 * A tenant whose Kafka publishing stopped at a stored row that is not one canonical byte string
 * (migrations/0014): its later events are held, never skipped, until the row is good again or gone.
 */
export interface RelayHalt {
  readonly tenantId: string;
  /** EVENT.NOT_CANONICAL (bytes, key order, a duplicate key), EVENT.MALFORMED (shape, signature encoding) or EVENT.MISFILED (the row's stream or tenant is not the envelope's). */
  readonly code: string;
  readonly message: string;
  readonly eventId: string;
  readonly streamId: string;
  readonly streamVersion: number;
  readonly position: GlobalPosition;
  readonly haltedAt?: string;
}

/** Why the relay must not publish `event`'s bytes, named at its position; undefined: publish. Needs no key. */
export function relayFaultOf(event: RecordedEvent): RelayHalt | undefined {
  const bytes = storedBytesFault(event);
  const misfiled = bytes ? undefined : misfiledFault(event);
  if (!bytes && !misfiled) return undefined;
  const { tenantId, eventId, streamId } = event.storedAs;
  const code = bytes ? (bytes.fault === 'not-canonical' ? 'EVENT.NOT_CANONICAL' : 'EVENT.MALFORMED') : 'EVENT.MISFILED';
  return {
    tenantId,
    code,
    message: `not published: event ${eventId} of tenant ${tenantId}, stream ${streamId} version ${event.streamVersion}, at ${formatPosition(event.position)}: ${bytes?.message ?? misfiled}`,
    eventId,
    streamId,
    streamVersion: event.streamVersion,
    position: event.position,
  };
}

interface HaltRow {
  tenant_id: string;
  code: string;
  message: string;
  event_id: string;
  stream_id: string;
  stream_version: string;
  c: string;
  p: string;
  halted_at: Date | string;
}

/** The relay's halted tenants, read with `db` (a pool or the lease's session). */
export async function readRelayHalts(db: Knex, relay: string): Promise<RelayHalt[]> {
  const result = await db.raw(
    `SELECT tenant_id, code, message, event_id, stream_id, stream_version::text AS stream_version, position_commit::text AS c, position_prepare::text AS p, halted_at
     FROM relay_halts WHERE relay = ? ORDER BY position_commit, position_prepare`,
    [relay],
  );
  return (result.rows as HaltRow[]).map((row) => ({
    tenantId: row.tenant_id,
    code: row.code,
    message: row.message,
    eventId: row.event_id,
    streamId: row.stream_id,
    streamVersion: Number(row.stream_version),
    position: { commit: BigInt(row.c), prepare: BigInt(row.p) },
    haltedAt: row.halted_at instanceof Date ? row.halted_at.toISOString() : String(row.halted_at),
  }));
}

/** SQL and bindings writing `halt` (the first halt of a tenant wins until it is lifted or moved). */
export function insertHaltSql(relay: string, halt: RelayHalt): [string, Knex.RawBinding[]] {
  return [
    `INSERT INTO relay_halts (relay, tenant_id, code, message, event_id, stream_id, stream_version, position_commit, position_prepare)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (relay, tenant_id) DO NOTHING`,
    [relay, halt.tenantId, halt.code, halt.message, halt.eventId, halt.streamId, halt.streamVersion, String(halt.position.commit), String(halt.position.prepare)],
  ];
}

/** SQL moving a tenant's halt to a later bad row found while its held events were published. */
export function moveHaltSql(relay: string, halt: RelayHalt): [string, Knex.RawBinding[]] {
  return [
    `UPDATE relay_halts SET code = ?, message = ?, event_id = ?, stream_id = ?, stream_version = ?, position_commit = ?, position_prepare = ?, halted_at = now()
     WHERE relay = ? AND tenant_id = ?`,
    [halt.code, halt.message, halt.eventId, halt.streamId, halt.streamVersion, String(halt.position.commit), String(halt.position.prepare), relay, halt.tenantId],
  ];
}

export function deleteHaltSql(relay: string, tenantId: string): [string, Knex.RawBinding[]] {
  return ['DELETE FROM relay_halts WHERE relay = ? AND tenant_id = ?', [relay, tenantId]];
}
