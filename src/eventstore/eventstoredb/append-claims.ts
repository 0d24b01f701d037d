import { createHash } from 'node:crypto';
import type { EventStoreDBClient } from '@eventstore/db-client';
import type { EventEnvelope, JsonObject } from '../../../contracts';
import { DuplicateEventError, IdempotencyKeyUsedError } from '../errors';
import type { IdempotencyClaim, IdempotentAppend } from '../event-store.port';
import { ClaimRegistry } from './claim-registry';
import { translateEsdbError } from './esdb-errors';
import { readStreamOrEmpty } from './esdb-reads';

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
};

/** A claim this append holds, to give up if the append fails. */
export interface HeldClaim {
  readonly name: string;
  readonly revision: bigint;
}

/**
 * Longer than any append can stay in flight (the client's 10 s deadline, EventStoreDB's commit
 * timeout): a claim still pending after this was never going to land, and may be taken over.
 */
export const PENDING_CLAIM_MS = 60_000;

/** The claims an append makes before it is sent: its event ids, and its idempotency key. */
export class AppendClaims {
  private readonly registry: ClaimRegistry;

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly pendingClaimMs = PENDING_CLAIM_MS,
  ) {
    this.registry = new ClaimRegistry(client);
  }

  /** Claims every id of the batch, or none: DuplicateEventError names the ids another append holds. */
  async reserveIds(streamId: string, events: readonly EventEnvelope[]): Promise<HeldClaim[]> {
    const outcomes = await Promise.allSettled(
      events.map(async (envelope) => {
        const name = `event-${envelope.id}`;
        const outcome = await this.registry.take(name, { streamId }, async () => true);
        return outcome.won ? { name, revision: outcome.revision } : envelope.id;
      }),
    );
    const held = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' && typeof outcome.value !== 'string' ? [outcome.value] : []));
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    const duplicates = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' && typeof outcome.value === 'string' ? [outcome.value] : []));
    if (failed || duplicates.length > 0) {
      await this.release(held);
      throw failed ? translateEsdbError(failed.reason) : new DuplicateEventError(duplicates);
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
    const outcome = await this.registry.take(name, record, (holder) => this.stillHeld(holder));
    if (!outcome.won) throw new IdempotencyKeyUsedError(claim.tenantId, claim.key);
    return { name, revision: outcome.revision };
  }

  /** The append recorded under the key, once it has landed. */
  async findLanded(tenantId: string, key: string): Promise<IdempotentAppend | undefined> {
    const claim = await this.registry.current<KeyClaim>(keyClaimName(tenantId, key));
    if (!claim || claim.released || (await this.outcomeOf(claim.record)) !== 'landed') return undefined;
    const { requestHash, streamId, firstVersion, eventCount } = claim.record;
    return { requestHash, streamId, firstVersion, eventCount };
  }

  /** Gives the claims up; best effort, since a claim left behind is judged by what landed. */
  async release(claims: readonly HeldClaim[]): Promise<void> {
    await Promise.allSettled(claims.map((claim) => this.registry.release(claim.name, claim.revision)));
  }

  private async stillHeld(holder: KeyClaim): Promise<boolean> {
    const outcome = await this.outcomeOf(holder);
    if (outcome !== 'pending') return outcome === 'landed';
    const claimedAt = Date.parse(holder.claimedAt ?? '');
    return !(Date.now() - claimedAt > this.pendingClaimMs);
  }

  /**
   * An append pinned to one stream version either landed there, can still land (its stream has
   * not reached that version), or never will (another event holds that version).
   */
  private async outcomeOf(claim: KeyClaim): Promise<'landed' | 'pending' | 'dead'> {
    if (claim.eventCount === 0 || claim.firstEventId === null) return 'landed';
    const [atVersion] = await readStreamOrEmpty(this.client, claim.streamId, { fromRevision: BigInt(claim.firstVersion), maxCount: 1 });
    if (!atVersion?.event) return 'pending';
    return atVersion.event.id === claim.firstEventId ? 'landed' : 'dead';
  }
}

/** Keys are the caller's text: hashed into a stream name of fixed shape. */
function keyClaimName(tenantId: string, key: string): string {
  return `idempotency-${createHash('sha256').update(tenantId).update('\0').update(key).digest('hex')}`;
}
