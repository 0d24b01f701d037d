import type { Decider } from '../src/approvals/events';
import { defineProjector } from './runtime/projector';

const DECISIONS: Record<string, string> = {
  'approvals.stage-approved': 'APPROVED',
  'approvals.changes-requested': 'CHANGES_REQUESTED',
  'approvals.rejected': 'REJECTED',
};

/** One row per stage decision, for finance's "who approved what, when, at which stage". */
export const approvalHistoryProjector = defineProjector({
  name: 'approval_history',
  handles: Object.keys(DECISIONS),
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
      table.index(['tenant_id', 'decided_at']);
      table.index(['tenant_id', 'approval_id']);
    },
  },
  async apply(events, { trx, tables }) {
    const rows = events.map(({ envelope }) => {
      const data = envelope.data as { approvalId: string; definitionId: string; round: number; stage: string; decidedBy: Decider; comment?: string | null; reason?: string };
      return {
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
      };
    });
    if (rows.length > 0) await trx(tables.decisions).insert(rows);
  },
});
