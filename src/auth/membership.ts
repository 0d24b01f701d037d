import { streamIdFor } from '../commands/stream-id';
import type { StateLoader } from '../commands/state-loader';
import { workspaceDecider } from '../workspaces/workspace.decider';
import { StoreUnavailableError } from '../eventstore/errors';
import type { Member } from '../workspaces/state';

/**
 * Whether a session whose authority dates from `sessionSeconds` (epoch seconds: a token's issue
 * time, a sign-in's auth time) belongs to the membership as it is, and not to an earlier one of the
 * same account that was removed. Tokens carry whole seconds, so a session from the very second the
 * membership began still counts as part of it.
 */
export function sessionPredates(member: Member, sessionSeconds: number): boolean {
  return member.since !== null && sessionSeconds < Math.floor(Date.parse(member.since) / 1000);
}

/** The user's membership of the workspace as its events say now, or undefined (no workspace, or not a member). */
export async function membershipOf(states: StateLoader, tenantId: string, userId: string): Promise<Member | undefined> {
  const { state } = await states.loadCurrent(workspaceDecider, streamIdFor('workspace', tenantId));
  return state.status === 'unregistered' ? undefined : state.members[userId];
}

/**
 * As `membershipOf`, but while the event store is unreachable it answers from the membership this
 * process last read, if it read one: no removal can be recorded while the store is down, and an
 * operator still needs the status routes during an outage. With nothing read before, the outage
 * error stands (fail closed).
 */
export async function membershipOrLastKnown(states: StateLoader, tenantId: string, userId: string): Promise<Member | undefined> {
  try {
    return await membershipOf(states, tenantId, userId);
  } catch (error) {
    const known = error instanceof StoreUnavailableError ? states.lastKnown(workspaceDecider, streamIdFor('workspace', tenantId)) : undefined;
    if (!known) throw error;
    return known.status === 'unregistered' ? undefined : known.members[userId];
  }
}
