import type { Actor } from '../../contracts';

/** Who asks, for whom, and the ids that tie a command to what it causes. Built at the edge. */
export interface CommandContext {
  readonly tenantId: string;
  readonly actor: Actor;
  readonly correlationId: string;
  readonly causationId: string;
  readonly commandId: string;
  /** The instant the command is decided at; it becomes every event's occurredAt. */
  readonly now: string;
  /**
   * `scope` is who the key belongs to: the tenant, unless the command creates the tenant
   * (then the caller), so a retried registration finds its first outcome.
   */
  readonly idempotency?: { readonly key: string; readonly requestHash: string; readonly scope?: string };
}
