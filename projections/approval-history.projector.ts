import type { Decider } from '../src/approvals/events';
import { defineProjector } from './runtime/projector';

const DECISIONS: Record<string, string> = {
  'approvals.stage-approved': 'APPROVED',
  'approvals.changes-requested': 'CHANGES_REQUESTED',
  'approvals.rejected': 'REJECTED',
};

const SUBMITTED = 'approvals.submitted';

/**
 * One row per stage decision, for finance's "who approved what, when, at which stage", with the
 * segregation-of-duties flag of the decision's round. v2 (issue 24, item 2): the flag, read from
 * the round's submission (kept in `rounds`). A new name, so every deployment builds it from the
 * store; `approval_history`'s tables are no longer read.
 */
export const approvalHistoryProjector = defineProjector({
  name: 'approval_history_v2',
  handles: [SUBMITTED, ...Object.keys(DECISIONS)],
  onFailure: 'stop',
  tables: {
    decisions: (table) => {
      table.uuid('event_id').primary();
      table.text('tenant_id').notNullable();
      table.text('approval_id').notNullable();
      table.text('definition_id').notNullable();
      table.integer('round').notNullable();
      table.text('stage').notNullable();
      table.text('decision').notNullable();
      table.text('actor_id').notNullable();
      table.text('actor_role').notNullable();
      table.text('comment');
      table.text('decided_at').notNullable();
      table.boolean('segregation_of_duties').notNullable();
      table.index(['tenant_id', 'decided_at']);
      table.index(['tenant_id', 'approval_id']);
    },
    rounds: (table) => {
      table.text('tenant_id').notNullable();
      table.text('approval_id').notNullable();
      table.integer('round').notNullable();
      table.boolean('segregation_of_duties').notNullable();
      table.text('submitted_by').notNullable();
      table.text('submitted_at').notNullable();
      table.primary(['tenant_id', 'approval_id', 'round']);
    },
  },
  async apply(events, { trx, tables }) {
    // In order: a round's submission comes before its decisions, in this batch or an earlier one.
    const flags = new Map<string, boolean>();
    const roundKey = (tenantId: string, approvalId: string, round: number) => `${tenantId}\u0000${approvalId}\u0000${round}`;
    const decisions = [];
    for (const { envelope } of events) {
      if (envelope.type === SUBMITTED) {
        // v1 submissions named no submitter: the envelope's actor submitted (as the aggregate's upcaster says).
        const data = envelope.data as { approvalId: string; round: number; segregationOfDuties: boolean; submittedBy?: string };
        const flag = data.segregationOfDuties === true;
        await trx(tables.rounds).insert({ tenant_id: envelope.tenantId, approval_id: data.approvalId, round: data.round, segregation_of_duties: flag, submitted_by: data.submittedBy ?? envelope.actor.id, submitted_at: envelope.occurredAt });
        flags.set(roundKey(envelope.tenantId, data.approvalId, data.round), flag);
        continue;
      }
      const data = envelope.data as { approvalId: string; definitionId: string; round: number; stage: string; decidedBy: Decider; comment?: string | null; reason?: string };
      const key = roundKey(envelope.tenantId, data.approvalId, data.round);
      if (!flags.has(key)) {
        const round = await trx(tables.rounds).where({ tenant_id: envelope.tenantId, approval_id: data.approvalId, round: data.round }).first('segregation_of_duties');
        // A decision is only ever made in a submitted round; the submission is in the same stream, before it.
        if (!round) throw new Error(`decision ${envelope.id} of approval ${data.approvalId} round ${data.round}: no submission of that round was applied`);
        flags.set(key, Boolean(round.segregation_of_duties));
      }
      decisions.push({
        event_id: envelope.id,
        tenant_id: envelope.tenantId,
        approval_id: data.approvalId,
        definition_id: data.definitionId,
        round: data.round,
        stage: data.stage,
        decision: DECISIONS[envelope.type],
        actor_id: data.decidedBy.userId,
        actor_role: data.decidedBy.role,
        comment: data.comment ?? data.reason ?? null,
        decided_at: envelope.occurredAt,
        segregation_of_duties: flags.get(key)!,
      });
    }
    if (decisions.length > 0) await trx(tables.decisions).insert(decisions);
  },
});
