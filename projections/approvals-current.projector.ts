import { APPROVAL_EVENT_TYPES } from '../src/approvals/events';
import { defineProjector } from './runtime/projector';

/**
 * One row per value definition and its approval as it stands: the finance list's source.
 * v2 (issue 24, item 2): the current round's segregation-of-duties flag (null before the first
 * submission). A new name, so every deployment builds it from the store; `approvals_current`'s
 * tables are no longer read.
 */
export const approvalsCurrentProjector = defineProjector({
  name: 'approvals_current_v2',
  handles: APPROVAL_EVENT_TYPES,
  onFailure: 'stop',
  tables: {
    approvals: (table) => {
      table.text('tenant_id').notNullable();
      table.text('definition_id').notNullable();
      table.text('approval_id');
      table.text('name').notNullable();
      table.text('currency').notNullable();
      table.bigInteger('unit_price_minor').notNullable();
      table.text('status').notNullable();
      table.text('current_stage');
      table.integer('round').notNullable();
      table.boolean('segregation_of_duties');
      table.text('created_at').notNullable();
      table.text('submitted_at');
      table.text('completed_at');
      table.text('updated_at').notNullable();
      table.primary(['tenant_id', 'definition_id']);
      table.index(['tenant_id', 'status']);
    },
  },
  async apply(events, { trx, tables }) {
    for (const { envelope } of events) {
      const data = envelope.data as Record<string, unknown>;
      const where = { tenant_id: envelope.tenantId, definition_id: String(data.definitionId) };
      const at = envelope.occurredAt;
      switch (envelope.type) {
        case 'approvals.definition-drafted':
          await trx(tables.approvals).insert({
            ...where,
            approval_id: null,
            name: String(data.name),
            currency: String(data.currency),
            unit_price_minor: Number(data.unitPriceMinor),
            status: 'draft',
            current_stage: null,
            round: 0,
            created_at: at,
            updated_at: at,
          });
          break;
        case 'approvals.definition-edited':
          await trx(tables.approvals).where(where).update({ name: String(data.name), currency: String(data.currency), unit_price_minor: Number(data.unitPriceMinor), updated_at: at });
          break;
        case 'approvals.submitted':
          await trx(tables.approvals).where(where).update({
            approval_id: String(data.approvalId),
            status: 'in-review',
            current_stage: 'FINANCE',
            round: Number(data.round),
            segregation_of_duties: data.segregationOfDuties === true,
            submitted_at: at,
            updated_at: at,
          });
          break;
        case 'approvals.stage-approved': {
          const next = data.stage === 'FINANCE' ? 'TECHNICAL' : data.stage === 'TECHNICAL' ? 'FINAL' : null;
          await trx(tables.approvals).where(where).update({ current_stage: next, updated_at: at });
          break;
        }
        case 'approvals.changes-requested':
          await trx(tables.approvals).where(where).update({ status: 'changes-requested', current_stage: null, updated_at: at });
          break;
        case 'approvals.rejected':
          await trx(tables.approvals).where(where).update({ status: 'rejected', current_stage: null, completed_at: at, updated_at: at });
          break;
        case 'approvals.completed':
          await trx(tables.approvals).where(where).update({ status: 'approved', current_stage: null, completed_at: at, updated_at: at });
          break;
      }
    }
  },
});
