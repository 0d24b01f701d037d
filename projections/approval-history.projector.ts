import type { Knex } from 'knex';
import type { Decider } from '../src/approvals/events';
import { defineProjector } from './runtime/projector';

const DECISIONS: Record<string, string> = {
  'approvals.stage-approved': 'APPROVED',
  'approvals.changes-requested': 'CHANGES_REQUESTED',
  'approvals.rejected': 'REJECTED',
};

const DRAFTED = 'approvals.definition-drafted';
const EDITED = 'approvals.definition-edited';
const SUBMITTED = 'approvals.submitted';

/** What a decision was about, per round: the price under review, and who made and submitted it. */
interface RoundFacts {
  readonly segregation_of_duties: boolean;
  readonly unit_price_minor: number;
  readonly currency: string;
  readonly drafted_by: string;
  readonly submitted_by: string;
}

/** The columns of RoundFacts: a round keeps them, and each of its decisions a copy. */
function roundFactColumns(table: Knex.CreateTableBuilder): void {
  table.boolean('segregation_of_duties').notNullable();
  table.bigInteger('unit_price_minor').notNullable();
  table.text('currency').notNullable();
  table.text('drafted_by').notNullable();
  table.text('submitted_by').notNullable();
}

/**
 * One row per stage decision, for finance's "who approved what, when, at which stage": the
 * decider and their role, and from the decision's round its price and currency, who drafted the
 * definition and who submitted the round, and whether segregation of duties held. v2 (issue 24):
 * the round's facts, kept in `rounds` (from the submissions) and `definitions` (the price as drafted
 * and edited). A new name, so every deployment builds it from the store; `approval_history`'s
 * tables are no longer read.
 */
export const approvalHistoryProjector = defineProjector({
  name: 'approval_history_v2',
  handles: [DRAFTED, EDITED, SUBMITTED, ...Object.keys(DECISIONS)],
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
      roundFactColumns(table);
      table.index(['tenant_id', 'decided_at']);
      table.index(['tenant_id', 'approval_id']);
    },
    rounds: (table) => {
      table.text('tenant_id').notNullable();
      table.text('approval_id').notNullable();
      table.integer('round').notNullable();
      roundFactColumns(table);
      table.text('submitted_at').notNullable();
      table.primary(['tenant_id', 'approval_id', 'round']);
    },
    definitions: (table) => {
      table.text('tenant_id').notNullable();
      table.text('definition_id').notNullable();
      table.bigInteger('unit_price_minor').notNullable();
      table.text('currency').notNullable();
      table.text('drafted_by').notNullable();
      table.primary(['tenant_id', 'definition_id']);
    },
  },
  async apply(events, { trx, tables }) {
    // In stream order: a definition's drafting before its submissions, a round's submission before its decisions.
    const facts = new Map<string, RoundFacts>();
    const roundKey = (tenantId: string, approvalId: string, round: number) => `${tenantId}\u0000${approvalId}\u0000${round}`;
    const decisions = [];
    for (const { envelope } of events) {
      const tenantId = envelope.tenantId;
      // v2 events name their maker; a v1 event's maker is its envelope's actor (as the aggregate's upcasters say).
      const data = envelope.data as Record<string, unknown>;
      if (envelope.type === DRAFTED) {
        await trx(tables.definitions).insert({ tenant_id: tenantId, definition_id: String(data.definitionId), unit_price_minor: Number(data.unitPriceMinor), currency: String(data.currency), drafted_by: String(data.draftedBy ?? envelope.actor.id) });
        continue;
      }
      if (envelope.type === EDITED) {
        await trx(tables.definitions).where({ tenant_id: tenantId, definition_id: String(data.definitionId) }).update({ unit_price_minor: Number(data.unitPriceMinor), currency: String(data.currency) });
        continue;
      }
      if (envelope.type === SUBMITTED) {
        const definition = await trx(tables.definitions).where({ tenant_id: tenantId, definition_id: String(data.definitionId) }).first('unit_price_minor', 'currency', 'drafted_by');
        if (!definition) throw new Error(`submission ${envelope.id} of definition ${String(data.definitionId)}: its drafting was not applied`);
        const round: RoundFacts = {
          segregation_of_duties: data.segregationOfDuties === true,
          unit_price_minor: Number(definition.unit_price_minor),
          currency: String(definition.currency),
          drafted_by: String(definition.drafted_by),
          submitted_by: String(data.submittedBy ?? envelope.actor.id),
        };
        await trx(tables.rounds).insert({ tenant_id: tenantId, approval_id: String(data.approvalId), round: Number(data.round), ...round, submitted_at: envelope.occurredAt });
        facts.set(roundKey(tenantId, String(data.approvalId), Number(data.round)), round);
        continue;
      }
      const decision = data as { approvalId: string; definitionId: string; round: number; stage: string; decidedBy: Decider; comment?: string | null; reason?: string };
      const key = roundKey(tenantId, decision.approvalId, decision.round);
      if (!facts.has(key)) {
        const stored: RoundFacts | undefined = await trx(tables.rounds)
          .where({ tenant_id: tenantId, approval_id: decision.approvalId, round: decision.round })
          .first('segregation_of_duties', 'unit_price_minor', 'currency', 'drafted_by', 'submitted_by');
        // A decision is only ever made in a submitted round; the submission is in the same stream, before it.
        if (!stored) throw new Error(`decision ${envelope.id} of approval ${decision.approvalId} round ${decision.round}: no submission of that round was applied`);
        facts.set(key, { ...stored, segregation_of_duties: Boolean(stored.segregation_of_duties), unit_price_minor: Number(stored.unit_price_minor) });
      }
      decisions.push({
        event_id: envelope.id,
        tenant_id: tenantId,
        approval_id: decision.approvalId,
        definition_id: decision.definitionId,
        round: decision.round,
        stage: decision.stage,
        decision: DECISIONS[envelope.type],
        actor_id: decision.decidedBy.userId,
        actor_role: decision.decidedBy.role,
        comment: decision.comment ?? decision.reason ?? null,
        decided_at: envelope.occurredAt,
        ...facts.get(key)!,
      });
    }
    if (decisions.length > 0) await trx(tables.decisions).insert(decisions);
  },
});
