import { newEventId, type EventEnvelope, type UnsignedEnvelope } from '../../contracts';
import type { CommandContext } from '../../src/commands/command-context';
import { streamIdFor } from '../../src/commands/stream-id';
import type { EventRowInput } from '../../src/eventstore/postgres/append-sql';
import { WORKSPACE_SCHEMA_VERSIONS } from '../../src/workspaces/events';

/** Events and commands shaped like real workspace traffic. */

export const BENCH_TENANT = 'tenant-bench';
export const BENCH_ACTOR = { id: 'user-bench', role: 'admin' } as const;

export function workspaceStreamId(workspaceId: string, tenantId = BENCH_TENANT): string {
  return streamIdFor('workspace', tenantId, workspaceId);
}

/** A `workspaces.renamed` event before signing, as CommandPipeline builds it. */
export function unsignedRenamed(streamId: string, name: string, previousName: string, tenantId = BENCH_TENANT): UnsignedEnvelope {
  const commandId = newEventId();
  return {
    id: newEventId(),
    type: 'workspaces.renamed',
    schemaVersion: WORKSPACE_SCHEMA_VERSIONS['workspaces.renamed'],
    streamId,
    tenantId,
    occurredAt: new Date().toISOString(),
    actor: { ...BENCH_ACTOR },
    data: { name, previousName },
    metadata: { correlationId: commandId, causationId: commandId, commandId },
  };
}

/** The name a workspace gets on its n-th rename: alternates, so every rename changes the name. */
export function nameAt(n: number): string {
  return n % 2 === 0 ? 'Acme Research Workspace' : 'Acme Research Workspace (renamed)';
}

export function commandContext(tenantId = BENCH_TENANT): CommandContext {
  const commandId = newEventId();
  return { tenantId, actor: { ...BENCH_ACTOR }, correlationId: commandId, causationId: commandId, commandId, now: new Date().toISOString() };
}

/**
 * The column values the store would write for a signed envelope, for the unsigned baseline:
 * a fresh id and time, the envelope text of an already-signed event (so the row has the same
 * size), serialized with plain JSON.stringify: the baseline does none of the store's work.
 */
export function rawRowOf(template: EventEnvelope, streamId: string, streamVersion: number): EventRowInput & { stream_id: string; stream_version: number; tenant_id: string } {
  const envelope = { ...template, id: newEventId(), streamId, occurredAt: new Date().toISOString() };
  return {
    idx: 0,
    event_id: envelope.id,
    event_type: envelope.type,
    schema_version: envelope.schemaVersion,
    occurred_at: envelope.occurredAt,
    envelope: JSON.stringify(envelope),
    stream_id: streamId,
    stream_version: streamVersion,
    tenant_id: envelope.tenantId,
  };
}
