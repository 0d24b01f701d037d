import { createHash } from 'node:crypto';
import type { EventStoreDBClient } from '@eventstore/db-client';
import type { EventEnvelope, JsonObject } from '../../../contracts';
import { DuplicateEventError, IdempotencyKeyUsedError } from '../errors';
import type { IdempotencyClaim, IdempotentAppend } from '../event-store.port';
import type { ClaimRegistry, HeldClaim } from './claim-registry';
import { readStreamOrEmpty } from './esdb-reads';

export type { HeldClaim } from './claim-registry';

/** What an idempotency claim records: enough to answer a retry, and to tell whether its append landed. */
type KeyClaim = JsonObject & {
  readonly tenantId: string;
  readonly key: string;
  readonly requestHash: string;
  readonly streamId: string;
  readonly firstVersion: number;
  readonly eventCount: number;
  readonly firstEventId: string | null;
  readonly claimedAt: string;
  /**
   * Earlier appends of the same request, pinned at the same version, whose outcome is unknown
   * (this retry took the key over while they were pending): any of them may still land there.
   */
  readonly earlier?: ReadonlyArray<{ readonly firstEventId: string; readonly eventCount: number }>;
};

/**
 * The claims an append makes before it is sent: its event ids, and its idempotency key, in the
 * claim registry (PostgreSQL); what landed is read from EventStoreDB.
 */
export class AppendClaims {
  constructor(
    private readonly client: EventStoreDBClient,
    private readonly registry: ClaimRegistry,
  ) {}

  /**
   * Claims every id of the batch, or none: DuplicateEventError names the ids another append
   * holds. Ids never claimed (all of them, but for a retry of a failed append) are taken in one
   * statement; the others one by one, since a released claim is taken by its revision.
   */
  async reserveIds(streamId: string, events: readonly EventEnvelope[]): Promise<HeldClaim[]> {
    const names = events.map((envelope) => eventClaimName(envelope.id));
    const held = await this.registry.takeUnclaimed(names, { streamId });
    const fresh = new Set(held.map((claim) => claim.name));
    const duplicates: string[] = [];
    try {
      for (const envelope of events) {
        const name = eventClaimName(envelope.id);
        if (fresh.has(name)) continue;
        const outcome = await this.registry.take(name, { streamId }, async () => true);
        if (outcome.won) held.push({ name, revision: outcome.revision });
        else duplicates.push(envelope.id);
      }
    } catch (error) {
      await this.release(held);
      throw error;
    }
    if (duplicates.length > 0) {
      await this.release(held);
      throw new DuplicateEventError(duplicates);
    }
    return held;
  }

  /** Claims the key for an append pinned at `firstVersion`, or throws IdempotencyKeyUsedError. */
  async claimKey(claim: IdempotencyClaim, streamId: string, firstVersion: number, events: readonly EventEnvelope[]): Promise<HeldClaim> {
    const name = keyClaimName(claim.tenantId, claim.key);
    const record: KeyClaim = {
      tenantId: claim.tenantId,
      key: claim.key,
      requestHash: claim.requestHash,
      streamId,
      firstVersion,
      eventCount: events.length,
      firstEventId: events[0]?.id ?? null,
      claimedAt: new Date().toISOString(),
    };
    const outcome = await this.registry.take<KeyClaim>(
      name,
      (taken) => (taken?.firstEventId && sameAppend(taken, record) ? { ...record, earlier: [{ firstEventId: taken.firstEventId, eventCount: taken.eventCount }, ...(taken.earlier ?? [])] } : record),
      (holder) => this.stillHeld(holder, record),
    );
    if (!outcome.won) throw new IdempotencyKeyUsedError(claim.tenantId, claim.key);
    return { name, revision: outcome.revision };
  }

  /** The append recorded under the key, once it has landed. */
  async findLanded(tenantId: string, key: string): Promise<IdempotentAppend | undefined> {
    const claim = await this.registry.current<KeyClaim>(keyClaimName(tenantId, key));
    if (!claim || claim.released) return undefined;
    const outcome = await this.outcomeOf(claim.record);
    if (outcome.state !== 'landed') return undefined;
    const { requestHash, streamId, firstVersion } = claim.record;
    return { requestHash, streamId, firstVersion, eventCount: outcome.eventCount };
  }

  /** Gives the claims up; best effort, since a claim left behind is judged by what landed. */
  async release(claims: readonly HeldClaim[]): Promise<void> {
    await this.registry.release(claims).catch(() => undefined);
  }

  /**
   * Settled by reading the pinned revision, never by the claim's age: an append whose outcome is
   * unknown can still land while EventStoreDB waits for a quorum. Landed: held. Another event at
   * that version: it never will, the key is free. Not reached yet: held — except by a retry of the
   * same request pinned at the same version, which may take it over at once, since at most one of
   * the two can land there and the claim keeps the earlier one's first event id (`earlier`).
   */
  private async stillHeld(holder: KeyClaim, claimant: KeyClaim): Promise<boolean> {
    const outcome = await this.outcomeOf(holder);
    if (outcome.state !== 'pending') return outcome.state === 'landed';
    return !sameAppend(holder, claimant);
  }

  /**
   * An append pinned to one stream version either landed there (this claim's or an earlier
   * attempt's), can still land (its stream has not reached that version), or never will.
   */
  private async outcomeOf(claim: KeyClaim): Promise<{ state: 'landed'; eventCount: number } | { state: 'pending' | 'dead' }> {
    if (claim.eventCount === 0 || claim.firstEventId === null) return { state: 'landed', eventCount: claim.eventCount };
    const [atVersion] = await readStreamOrEmpty(this.client, claim.streamId, { fromRevision: BigInt(claim.firstVersion), maxCount: 1 });
    if (!atVersion?.event) return { state: 'pending' };
    const attempts = [{ firstEventId: claim.firstEventId, eventCount: claim.eventCount }, ...(claim.earlier ?? [])];
    const landed = attempts.find((attempt) => attempt.firstEventId === atVersion.event!.id);
    return landed ? { state: 'landed', eventCount: landed.eventCount } : { state: 'dead' };
  }
}

/** The same request (its hash) pinned at the same stream version: of such appends at most one lands. */
function sameAppend(a: KeyClaim, b: KeyClaim): boolean {
  return a.requestHash === b.requestHash && a.streamId === b.streamId && a.firstVersion === b.firstVersion && a.tenantId === b.tenantId;
}

export function eventClaimName(eventId: string): string {
  return `event-${eventId}`;
}

/** Keys are the caller's text: hashed into a name of fixed shape (the stream name an earlier version claimed it in). */
export function keyClaimName(tenantId: string, key: string): string {
  return `idempotency-${createHash('sha256').update(tenantId).update('\0').update(key).digest('hex')}`;
}
