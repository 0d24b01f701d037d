import { newEventId, type Actor, type JsonObject } from '../../contracts';
import { streamIdFor } from '../commands/stream-id';
import type { EventStore } from '../eventstore/event-store.port';
import type { EventSigner } from '../signing/event-signer';

/** The tenant of security events no tenant can be named for, e.g. a sign-in attempt for an unknown address. */
export const SYSTEM_TENANT_ID = 'proofline-system';

export type SecurityEvent =
  | { type: 'security.login-failed'; data: { email: string; reason: 'unknown-account' | 'wrong-password' | 'not-a-member' | 'account-pending' | 'invitation-wrong-password'; ip: string } }
  | { type: 'security.token-reuse-detected'; data: { userId: string; familyId: string; ip: string } }
  | { type: 'security.access-denied'; data: { method: string; route: string; reason: 'role' | 'foreign-tenant'; role: string; requiredRoles: string[]; ip: string } }
  | { type: 'security.password-reset-issued'; data: { userId: string; expiresAt: string } }
  | { type: 'security.password-changed'; data: { userId: string; via: 'reset-token' } };

export const SECURITY_EVENT_TYPES: ReadonlyArray<SecurityEvent['type']> = [
  'security.login-failed',
  'security.token-reuse-detected',
  'security.access-denied',
  'security.password-reset-issued',
  'security.password-changed',
];

export interface SecurityContext {
  readonly tenantId: string;
  readonly actor: Actor;
  readonly correlationId: string;
}

/**
 * Appends security events, signed like every other event, to the tenant's `security-<tenant>`
 * stream, so they are on the audit trail and in the tenant's receipt chain. Append order is
 * all that matters here (no decision reads this stream), hence expected version `any`.
 */
export class SecurityLog {
  constructor(
    private readonly store: EventStore,
    private readonly signer: EventSigner,
  ) {}

  async record(context: SecurityContext, event: SecurityEvent, now = new Date()): Promise<void> {
    const id = newEventId();
    const envelope = this.signer.seal({
      id,
      type: event.type,
      schemaVersion: 1,
      streamId: streamIdFor('security', context.tenantId),
      tenantId: context.tenantId,
      occurredAt: now.toISOString(),
      actor: context.actor,
      data: event.data as unknown as JsonObject,
      metadata: { correlationId: context.correlationId, causationId: context.correlationId, commandId: id },
    });
    await this.store.append(envelope.streamId, [envelope], 'any');
  }
}
