import type { EventStore } from '../eventstore/event-store.port';
import { rejected } from '../errors/proofline-error';
import type { EventSigner } from '../signing/event-signer';
import { approvalDecider } from './approval.decider';
import type { ApprovalEvent } from './events';
import type { ApprovalState } from './state';
import { verifiedDefinitionStream } from './verified-stream';

/** When: an instant; given as a calendar date, also the date and the zone whose end of that day the instant is. */
export type AsOf = { readonly instant: string; readonly day?: { readonly date: string; readonly timeZone: string } };

/**
 * The approval as it stood at `asOf`, folded from its stream — not from a read model — so the
 * answer is what the signed events say. Every event read is verified; the decisions up to that
 * instant come with it.
 */
export async function approvalAsOf(store: EventStore, signer: EventSigner, tenantId: string, approvalId: string, asOf: AsOf | undefined) {
  const instant = asOf === undefined ? undefined : new Date(asOf.instant).toISOString();
  // A prefix in stream order: the state after the last event decided by then (clocks of several instances may disagree).
  const { all: recorded, kept: upTo } = await verifiedDefinitionStream(store, signer, tenantId, approvalId, () => rejected.notFound('APPROVAL.NOT_FOUND', 'no such approval'), (all) => {
    const cut = instant ? all.findIndex((event) => event.envelope.occurredAt > instant) : -1;
    return cut === -1 ? [...all] : all.slice(0, cut);
  });
  if (upTo.length === 0) {
    throw rejected.notFound('APPROVAL.NOT_YET_DRAFTED', `the value definition did not exist yet at ${instant}; it was drafted at ${recorded[0].envelope.occurredAt}`, {
      asOf: instant,
      draftedAt: recorded[0].envelope.occurredAt,
    });
  }
  const events = upTo.map((event) => ({ type: event.envelope.type, data: event.envelope.data }) as ApprovalEvent);
  const state = events.reduce(approvalDecider.evolve, approvalDecider.initialState) as Exclude<ApprovalState, { status: 'none' }>;
  return {
    approvalId,
    definitionId: state.definitionId,
    asOf: instant ?? null,
    ...(asOf?.day ? { asOfDate: asOf.day.date, timeZone: asOf.day.timeZone } : {}),
    version: upTo[upTo.length - 1].streamVersion,
    // Before its first submission a definition has no approval yet: said plainly, not as an error.
    submitted: state.approvalId !== null,
    status: state.status,
    round: state.round,
    stage: state.stage,
    segregationOfDuties: state.segregationOfDuties,
    definition: state.definition,
    decisions: upTo
      .filter((event) => ['approvals.stage-approved', 'approvals.changes-requested', 'approvals.rejected'].includes(event.envelope.type))
      .map((event) => {
        const data = event.envelope.data as { round: number; stage: string; decidedBy: { userId: string; role: string }; comment?: string | null; reason?: string };
        return { eventId: event.envelope.id, type: event.envelope.type, round: data.round, stage: data.stage, decidedBy: data.decidedBy, comment: data.comment ?? data.reason ?? null, decidedAt: event.envelope.occurredAt };
      }),
  };
}
