import type { EventStore, RecordedEvent } from '../eventstore/event-store.port';
import { START, type GlobalPosition } from '../eventstore/global-position';
import type { EventSigner, VerificationFault } from './event-signer';

export interface EventFault {
  readonly eventId: string;
  readonly streamId: string;
  readonly streamVersion: number;
  readonly position: GlobalPosition;
  readonly fault: VerificationFault;
  readonly message: string;
}

export interface StoreVerificationReport {
  readonly checked: number;
  readonly faults: readonly EventFault[];
}

export interface VerifyStoreOptions {
  readonly tenantId?: string;
  readonly batchSize?: number;
  readonly onProgress?: (checked: number) => void;
}

/**
 * Re-reads every event in global order and checks its data hash, signature and that the
 * stored bytes are exactly the canonical form of what they parse to. Names every bad event.
 */
export async function verifyStore(store: EventStore, signer: EventSigner, options: VerifyStoreOptions = {}): Promise<StoreVerificationReport> {
  const batchSize = options.batchSize ?? 1000;
  const faults: EventFault[] = [];
  let checked = 0;
  let position = START;
  for (;;) {
    const batch = await store.readAll(position, batchSize, { tenantId: options.tenantId });
    for (const event of batch) {
      position = event.position;
      checked++;
      const fault = faultOf(signer, event);
      if (fault) faults.push(fault);
    }
    options.onProgress?.(checked);
    if (batch.length < batchSize) return { checked, faults };
  }
}

function faultOf(signer: EventSigner, event: RecordedEvent): EventFault | undefined {
  const where = { eventId: event.envelope.id, streamId: event.envelope.streamId, streamVersion: event.streamVersion, position: event.position };
  const verification = signer.verifyStored(event);
  return verification.valid ? undefined : { ...where, fault: verification.fault, message: verification.message };
}
