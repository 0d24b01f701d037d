import { newEventId, type UnsignedEnvelope } from '../../contracts';
import { ProoflineError } from '../errors/proofline-error';
import { IdempotencyKeyUsedError, WrongExpectedVersionError } from '../eventstore/errors';
import type { EventStore, ExpectedVersion } from '../eventstore/event-store.port';
import type { GlobalPosition } from '../eventstore/global-position';
import type { EventSigner } from '../signing/event-signer';
import type { CommandContext } from './command-context';
import type { Decider, DomainEvent } from './decider';
import type { StateLoader } from './state-loader';

export interface AppendedEvent {
  readonly id: string;
  readonly type: string;
  readonly streamVersion: number;
  readonly position: GlobalPosition;
}

export interface CommandOutcome {
  readonly streamId: string;
  /** The stream's version after the command (-1: the stream still does not exist). */
  readonly version: number;
  readonly events: readonly AppendedEvent[];
  /** True when the idempotency key had been used: nothing was decided or appended now. */
  readonly replayed: boolean;
}

export interface CommandRequest<C> {
  readonly streamId: string;
  readonly command: C;
  readonly context: CommandContext;
  /** The version the client last saw (If-Match); without it, the loaded version is expected. */
  readonly expectedVersion?: number;
}

/**
 * Load, decide, append — written once for every aggregate. Idempotency keys are checked
 * before deciding and claimed in the append's own transaction, so a retried request gets
 * the first outcome and the stream gets one set of events, even under concurrency.
 */
export class CommandPipeline {
  constructor(
    private readonly store: EventStore,
    private readonly signer: EventSigner,
    private readonly states: StateLoader,
  ) {}

  async handle<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, request: CommandRequest<C>): Promise<CommandOutcome> {
    const replay = await this.replayed(request);
    if (replay) return replay;
    try {
      return await this.decideAndAppend(decider, request);
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) return this.replayAfterKeyClash(error, request);
      // The stream moved since the idempotency check: if a concurrent request with the same key moved it,
      // its outcome is this request's outcome, not a conflict or a decision on the state it left behind.
      const concurrent = await this.replayed(request);
      if (concurrent) return concurrent;
      if (request.expectedVersion !== undefined) throw error;
      // Another process appended since this one cached the state: decide once more on fresh state.
      this.states.forget(request.streamId);
      return this.decideAndAppend(decider, request).catch((retryError: unknown) => this.replayAfterKeyClash(retryError, request));
    }
  }

  /** The append lost the race for its idempotency key: answer with the winner's outcome. Anything else is rethrown. */
  private async replayAfterKeyClash(error: unknown, request: CommandRequest<unknown>): Promise<CommandOutcome> {
    if (error instanceof IdempotencyKeyUsedError) {
      const replay = await this.replayed(request);
      if (replay) return replay;
    }
    throw error;
  }

  private async decideAndAppend<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, request: CommandRequest<C>): Promise<CommandOutcome> {
    const { streamId, context } = request;
    let loaded = await this.states.load(decider, streamId);
    if (request.expectedVersion !== undefined && request.expectedVersion !== (loaded.version ?? -1) && loaded.fromCache) {
      // The client may have seen a version another process appended: judge If-Match against the store, not this cache.
      this.states.forget(streamId);
      loaded = await this.states.load(decider, streamId);
    }
    if (request.expectedVersion !== undefined && request.expectedVersion !== (loaded.version ?? -1)) {
      throw new WrongExpectedVersionError(streamId, request.expectedVersion, loaded.version);
    }
    const decided = decider.decide(request.command, loaded.state);
    const expected: ExpectedVersion = loaded.version === undefined ? 'no-stream' : loaded.version;
    const idempotency = context.idempotency && {
      tenantId: context.idempotency.scope ?? context.tenantId,
      key: context.idempotency.key,
      requestHash: context.idempotency.requestHash,
    };
    if (decided.length === 0) {
      // A keyed no-op is recorded too: its retry must stay a no-op even after others change the stream.
      if (idempotency) await this.store.append(streamId, [], expected, { idempotency });
      return { streamId, version: loaded.version ?? -1, events: [], replayed: false };
    }
    const envelopes = this.signer.sealBatch(decided.map((event) => envelopeOf(decider, streamId, event, context)));
    const result = await this.store.append(streamId, envelopes, expected, { idempotency });
    const state = decided.reduce(decider.evolve, loaded.state);
    await this.states.remember(decider, streamId, state, loaded.version, result.nextExpectedVersion);
    return {
      streamId,
      version: result.nextExpectedVersion,
      replayed: false,
      events: envelopes.map((envelope, i) => ({ id: envelope.id, type: envelope.type, streamVersion: result.streamVersions[i], position: result.positions[i] })),
    };
  }

  private async replayed(request: CommandRequest<unknown>): Promise<CommandOutcome | undefined> {
    const { idempotency, tenantId } = request.context;
    if (!idempotency) return undefined;
    const earlier = await this.store.findIdempotentAppend(idempotency.scope ?? tenantId, idempotency.key);
    if (!earlier) return undefined;
    if (earlier.requestHash !== idempotency.requestHash) {
      throw new ProoflineError('IDEMPOTENCY.KEY_REUSED', `Idempotency-Key ${JSON.stringify(idempotency.key)} was used for a different request`, 422, {
        field: 'Idempotency-Key',
      });
    }
    const events = await this.store.readStream(earlier.streamId, { fromVersion: earlier.firstVersion, maxCount: earlier.eventCount });
    return {
      streamId: earlier.streamId,
      version: earlier.firstVersion + earlier.eventCount - 1,
      replayed: true,
      events: events.map((e) => ({ id: e.envelope.id, type: e.envelope.type, streamVersion: e.streamVersion, position: e.position })),
    };
  }
}

function envelopeOf<E extends DomainEvent>(decider: Decider<unknown, E, unknown>, streamId: string, event: E, context: CommandContext): UnsignedEnvelope {
  return {
    id: newEventId(),
    type: event.type,
    schemaVersion: decider.schemaVersions[event.type as E['type']],
    streamId,
    tenantId: context.tenantId,
    occurredAt: context.now,
    actor: context.actor,
    data: event.data,
    metadata: {
      correlationId: context.correlationId,
      causationId: context.causationId,
      commandId: context.commandId,
      ...(context.idempotency ? { idempotencyKey: context.idempotency.key } : {}),
    },
  };
}
