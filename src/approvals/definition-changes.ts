import { DEFINITION_FIELDS, type DefinitionField, type Stage, type ValueDefinition } from './events';

/** One event of a definition's stream, as read: what the changes are folded from. */
export interface StreamEvent {
  readonly id: string;
  readonly type: string;
  readonly occurredAt: string;
  readonly actor: { readonly id: string; readonly role: string };
  readonly data: Record<string, unknown>;
}

export interface RoundDecision {
  readonly stage: Stage;
  readonly decision: 'APPROVED' | 'CHANGES_REQUESTED' | 'REJECTED';
  readonly userId: string;
  readonly role: string;
  readonly decidedAt: string;
  readonly eventId: string;
}

/**
 * What became of a value: the last round that reviewed it while it was the definition's (null
 * until a submission carried it), that round's submitter and decisions, and how the round ended
 * (`approved`: its deciders approved the definition with this value in it).
 */
export interface ChangeOutcome {
  readonly round: number | null;
  readonly status: 'not-submitted' | 'in-review' | 'changes-requested' | 'rejected' | 'approved';
  readonly submittedBy: string | null;
  readonly decisions: readonly RoundDecision[];
}

export interface DefinitionChange {
  readonly field: DefinitionField;
  readonly from: string | number | null;
  readonly to: string | number;
  /** 'drafted': the value the definition started with; 'edited': a change to it. */
  readonly kind: 'drafted' | 'edited';
  readonly by: { readonly userId: string; readonly role: string };
  /** The definition's currency once this change was made: a price is in it (a currency change changes what a price means). */
  readonly currency: string;
  readonly at: string;
  readonly eventId: string;
  readonly outcome: ChangeOutcome;
}

const DECISIONS: Readonly<Record<string, RoundDecision['decision']>> = {
  'approvals.stage-approved': 'APPROVED',
  'approvals.changes-requested': 'CHANGES_REQUESTED',
  'approvals.rejected': 'REJECTED',
};

/**
 * Every value each field of a definition took, oldest first: who set it, when, and what the
 * approval made of it — the last round that reviewed it, that round's decisions, and whether it
 * was approved. Folded from the definition's own stream, so the decisions of members removed
 * since are there too. A value unchanged across rounds is reviewed by each; a value replaced
 * before the next submission keeps the round that sent it back.
 */
export function definitionChanges(events: readonly StreamEvent[], field?: DefinitionField): DefinitionChange[] {
  const changes: Array<Omit<DefinitionChange, 'outcome'> & { carriedBy?: number }> = [];
  const rounds = new Map<number, { submittedBy: string; decisions: RoundDecision[]; status: ChangeOutcome['status'] }>();
  let current: Partial<ValueDefinition> = {};
  // The change that set each field's present value: every submission carries it, until it is replaced.
  const present = new Map<DefinitionField, (typeof changes)[number]>();
  for (const event of events) {
    const data = event.data;
    switch (event.type) {
      case 'approvals.definition-drafted':
      case 'approvals.definition-edited': {
        const drafted = event.type === 'approvals.definition-drafted';
        // v1 events named no maker: the envelope's actor made them.
        const userId = String((drafted ? data.draftedBy : data.editedBy) ?? event.actor.id);
        const changed = drafted ? DEFINITION_FIELDS : DEFINITION_FIELDS.filter((name) => (data.changed as string[] | undefined)?.includes(name) ?? data[name] !== current[name]);
        for (const name of changed) {
          const change = {
            field: name,
            from: drafted ? null : (current[name] ?? null),
            to: data[name] as string | number,
            kind: drafted ? ('drafted' as const) : ('edited' as const),
            by: { userId, role: event.actor.role },
            currency: String(data.currency),
            at: event.occurredAt,
            eventId: event.id,
          };
          changes.push(change);
          present.set(name, change);
        }
        current = Object.fromEntries(DEFINITION_FIELDS.map((name) => [name, data[name]])) as Partial<ValueDefinition>;
        break;
      }
      case 'approvals.submitted': {
        const round = Number(data.round);
        rounds.set(round, { submittedBy: String(data.submittedBy ?? event.actor.id), decisions: [], status: 'in-review' });
        for (const change of present.values()) change.carriedBy = round;
        break;
      }
      case 'approvals.stage-approved':
      case 'approvals.changes-requested':
      case 'approvals.rejected': {
        const round = rounds.get(Number(data.round));
        if (!round) break;
        const decidedBy = data.decidedBy as { userId: string; role: string };
        round.decisions.push({ stage: data.stage as Stage, decision: DECISIONS[event.type], userId: decidedBy.userId, role: decidedBy.role, decidedAt: event.occurredAt, eventId: event.id });
        if (event.type === 'approvals.changes-requested') round.status = 'changes-requested';
        if (event.type === 'approvals.rejected') round.status = 'rejected';
        break;
      }
      case 'approvals.completed': {
        const round = rounds.get(Number(data.round));
        if (round) round.status = 'approved';
        break;
      }
    }
  }
  return changes
    .filter((change) => field === undefined || change.field === field)
    .map(({ carriedBy, ...change }) => {
      const round = carriedBy === undefined ? undefined : rounds.get(carriedBy);
      const outcome: ChangeOutcome = round
        ? { round: carriedBy!, status: round.status, submittedBy: round.submittedBy, decisions: [...round.decisions] }
        : { round: null, status: 'not-submitted', submittedBy: null, decisions: [] };
      return { ...change, outcome };
    });
}
