import { createHash, randomUUID } from 'node:crypto';
import { newEventId, type EventEnvelope, type JsonObject } from '../../contracts';
import type { IdempotencyClaim } from '../../src/eventstore/event-store.port';
import { EventSigner } from '../../src/signing/event-signer';
import { KeyRegistry } from '../../src/signing/key-registry';

/** A signer over a fresh in-memory Ed25519 key: what the append hook would use. */
export function testSigner(): EventSigner {
  return new EventSigner(KeyRegistry.open({ keyType: 'ed25519' }));
}

export interface EventSpec {
  readonly tenantId?: string;
  readonly type?: string;
  readonly data?: JsonObject;
}

export const DEFAULT_TENANT = 'tenant-conformance';

/** One signed envelope for `streamId`, as the command pipeline would hand it to the store. */
export function sealedEvent(signer: EventSigner, streamId: string, spec: EventSpec = {}): EventEnvelope {
  const commandId = randomUUID();
  return signer.seal({
    id: newEventId(),
    type: spec.type ?? 'conformance.thing-happened',
    schemaVersion: 1,
    streamId,
    tenantId: spec.tenantId ?? DEFAULT_TENANT,
    occurredAt: new Date().toISOString(),
    actor: { id: 'user-conformance', role: 'owner' },
    data: spec.data ?? { n: Math.floor(Math.random() * 1_000_000) },
    metadata: { correlationId: commandId, causationId: commandId, commandId },
  });
}

/** `count` signed envelopes for one stream, data `{ seq: 0..count-1 }` unless given. */
export function sealedEvents(signer: EventSigner, streamId: string, count: number, spec: EventSpec = {}): EventEnvelope[] {
  return Array.from({ length: count }, (_, seq) => sealedEvent(signer, streamId, { data: { seq }, ...spec }));
}

/** A stream id no other test (or earlier run against a shared store) uses. */
export function uniqueStreamId(label: string): string {
  return `${label}-${randomUUID()}`;
}

export function uniqueTenantId(): string {
  return `tenant-${randomUUID()}`;
}

export function idempotencyClaim(tenantId: string, key: string, request: unknown): IdempotencyClaim {
  return { tenantId, key, requestHash: createHash('sha256').update(JSON.stringify(request)).digest('hex') };
}
