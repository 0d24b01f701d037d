import { upcast, type JsonValue } from '../../contracts';
import { ProoflineError } from '../errors/proofline-error';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port';
import type { EventSigner } from '../signing/event-signer';
import type { Decider, DomainEvent } from './decider';
import { snapshotBytes, type Snapshot, type SnapshotStore } from './snapshot-store';
import { StateCache } from './state-cache';

export interface LoadedState<S> {
  readonly state: S;
  /** Version of the last event folded in; undefined when the stream does not exist. */
  readonly version: number | undefined;
  readonly fromCache: boolean;
}

interface CachedState {
  readonly stateSchema: string;
  readonly version: number;
  readonly state: unknown;
}

/**
 * Loads a stream's state without replaying the whole stream: from this process's cache of
 * states it decided itself, else from the latest snapshot plus the events after it. Every
 * event read from the store is verified first: state is never built on a tampered event.
 */
export class StateLoader {
  private readonly cache = new StateCache<CachedState>(10_000);

  constructor(
    private readonly store: EventStore,
    private readonly snapshots: SnapshotStore,
    private readonly signer: EventSigner,
    private readonly snapshotEvery: number,
  ) {}

  async load<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, streamId: string): Promise<LoadedState<S>> {
    const cached = this.cache.get(streamId);
    if (cached && cached.stateSchema === decider.stateSchema) return { state: cached.state as S, version: cached.version, fromCache: true };
    const snapshot = await this.snapshots.load(streamId);
    const usable = snapshot && snapshot.stateSchema === decider.stateSchema && this.isAuthentic(streamId, snapshot) ? snapshot : undefined;
    let state = usable ? (usable.state as S) : decider.initialState;
    let version = usable?.streamVersion;
    const tail = await this.store.readStream(streamId, { fromVersion: version === undefined ? 0 : version + 1 });
    for (const recorded of tail) {
      state = decider.evolve(state, this.verifiedDomainEvent(decider, recorded));
      version = recorded.streamVersion;
    }
    // A command that appended while this load read the store may have cached a newer state: keep it.
    const newer = this.cache.get(streamId);
    if (version !== undefined && !(newer && newer.stateSchema === decider.stateSchema && newer.version > version)) {
      this.cache.set(streamId, { stateSchema: decider.stateSchema, version, state });
    }
    return { state, version, fromCache: false };
  }

  /**
   * For queries. The cache is only safe for commands (a stale state there costs a 409 and a retry);
   * a query would answer with it, unaware of what other processes appended. So the cached state
   * is used only when the stream's version in the store is still the cached one.
   */
  async loadCurrent<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, streamId: string): Promise<LoadedState<S>> {
    const cached = this.cache.get(streamId);
    if (cached && cached.stateSchema === decider.stateSchema && (await this.store.streamVersion(streamId)) !== cached.version) this.cache.delete(streamId);
    return this.load(decider, streamId);
  }

  /** The state this process last read or decided for the stream, without asking the store; undefined if none. */
  lastKnown<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, streamId: string): S | undefined {
    const cached = this.cache.get(streamId);
    return cached && cached.stateSchema === decider.stateSchema ? (cached.state as S) : undefined;
  }

  /** Records the state after an append; takes a snapshot when the append crossed a multiple of snapshotEvery. */
  async remember<S>(decider: { stateSchema: string }, streamId: string, state: S, previousVersion: number | undefined, version: number): Promise<void> {
    this.cache.set(streamId, { stateSchema: decider.stateSchema, version, state });
    // A new stream counts from version 0, so a snapshot is first taken at version snapshotEvery, not at its first event.
    const crossed = Math.floor(version / this.snapshotEvery) > Math.floor(Math.max(previousVersion ?? 0, 0) / this.snapshotEvery);
    if (!crossed) return;
    // A snapshot only shortens later loads; failing to write one must not fail a command whose events are stored.
    const snapshot: Snapshot = { streamVersion: version, stateSchema: decider.stateSchema, state: state as JsonValue };
    await this.snapshots.save(streamId, { ...snapshot, signature: this.signer.signDetached((signer) => snapshotBytes(streamId, snapshot, signer)) }).catch(() => undefined);
  }

  /** An unsigned or tampered snapshot is not used: the stream is replayed from its start instead. */
  private isAuthentic(streamId: string, snapshot: Snapshot): boolean {
    return snapshot.signature !== undefined && this.signer.verifyDetached(snapshotBytes(streamId, snapshot, snapshot.signature), snapshot.signature, `snapshot of ${streamId}`).valid;
  }

  forget(streamId: string): void {
    this.cache.delete(streamId);
  }

  private verifiedDomainEvent<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, recorded: RecordedEvent): E {
    const verification = this.signer.verifyRecorded(recorded);
    if (!verification.valid) {
      throw new ProoflineError('STREAM.TAMPERED', `refusing to decide on stream ${recorded.envelope.streamId}: ${verification.message}`, 500, {
        eventId: recorded.envelope.id,
        fault: verification.fault,
      });
    }
    const { type, schemaVersion, data, actor, occurredAt } = recorded.envelope;
    return { type, data: upcast(decider.upcasters, type, schemaVersion, data, { actor, occurredAt }).data } as E;
  }
}
