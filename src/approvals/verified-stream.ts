import { streamIdFor } from '../commands/stream-id';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port';
import { rejected } from '../errors/proofline-error';
import type { EventSigner } from '../signing/event-signer';

/**
 * A value definition's stream, every event verified: finance's answers are what the signed events
 * say, never a read model. `upTo` keeps the events before the first one it refuses (read, not verified).
 */
export async function verifiedDefinitionStream(
  store: EventStore,
  signer: EventSigner,
  tenantId: string,
  definitionId: string,
  notFound: () => Error,
  upTo: (recorded: readonly RecordedEvent[]) => RecordedEvent[] = (recorded) => [...recorded],
): Promise<{ readonly all: readonly RecordedEvent[]; readonly kept: readonly RecordedEvent[] }> {
  const all = await store.readStream(streamIdFor('valuedef', tenantId, definitionId));
  if (all.length === 0) throw notFound();
  const kept = upTo(all);
  for (const event of kept) {
    const verification = signer.verifyRecorded(event);
    if (!verification.valid) throw rejected.conflict('STREAM.TAMPERED', `event ${event.envelope.id} fails verification: ${verification.message}`, { eventId: event.envelope.id });
  }
  return { all, kept };
}
