import type { Knex } from 'knex';
import { approvalHistoryProjector } from '../../projections/approval-history.projector';
import { approvalsCurrentProjector } from '../../projections/approvals-current.projector';
import { tablesOf } from '../../projections/runtime/tables';
import type { ApprovalFilterQuery, ApprovalListQuery } from './approvals.dto';

const CURRENT = tablesOf(approvalsCurrentProjector, 'live').tables.approvals;
const HISTORY = tablesOf(approvalHistoryProjector, 'live').tables.decisions;

/** Instants compare as strings only in one form: the events' own (UTC, milliseconds, Z). */
const instant = (iso: string) => new Date(iso).toISOString();

/** The finance list: one row per approval as it stands, filtered, sorted and paged, always within the tenant. */
export async function listApprovals(knex: Knex, tenantId: string, query: ApprovalListQuery) {
  const filtered = knex(CURRENT)
    .where({ tenant_id: tenantId })
    .whereNotNull('approval_id')
    .modify((builder) => {
      if (query.status) void builder.where('status', query.status);
      if (query.stage) void builder.where('current_stage', query.stage);
      if (query.definition) void builder.where('definition_id', query.definition);
      if (query.from) void builder.where('updated_at', '>=', instant(query.from));
      if (query.to) void builder.where('updated_at', '<', instant(query.to));
      if (query.approver) {
        void builder.whereExists(knex(HISTORY).select(knex.raw('1')).whereRaw('??.approval_id = ??.approval_id', [HISTORY, CURRENT]).where(`${HISTORY}.tenant_id`, tenantId).where('actor_id', query.approver));
      }
    });
  const [{ total }] = await filtered.clone().count<{ total: string | number }[]>({ total: '*' });
  const column = query.sort.replace(/^-/, '');
  const rows: CurrentRow[] = await filtered
    .clone()
    .orderBy([{ column, order: query.sort.startsWith('-') ? 'desc' : 'asc' }, { column: 'definition_id', order: 'asc' }])
    .limit(query.pageSize)
    .offset((query.page - 1) * query.pageSize);
  return {
    page: query.page,
    pageSize: query.pageSize,
    total: Number(total),
    approvals: rows.map((row) => ({
      approvalId: row.approval_id,
      definitionId: row.definition_id,
      name: row.name,
      status: row.status,
      currentStage: row.current_stage,
      round: row.round,
      segregationOfDuties: row.segregation_of_duties,
      unitPriceMinor: Number(row.unit_price_minor),
      currency: row.currency,
      submittedAt: row.submitted_at,
      completedAt: row.completed_at,
      updatedAt: row.updated_at,
    })),
  };
}

interface CurrentRow {
  approval_id: string;
  definition_id: string;
  name: string;
  status: string;
  current_stage: string | null;
  round: number;
  segregation_of_duties: boolean | null;
  unit_price_minor: string | number;
  currency: string;
  submitted_at: string | null;
  completed_at: string | null;
  updated_at: string;
}

/** The decisions, oldest first (by time, then event id: a total order the CSV export pages through). */
export function historyQuery(knex: Knex, tenantId: string, filter: ApprovalFilterQuery & { approvalId?: string }) {
  return knex(HISTORY)
    .where({ tenant_id: tenantId })
    .modify((builder) => {
      if (filter.approvalId) void builder.where('approval_id', filter.approvalId);
      if (filter.definition) void builder.where('definition_id', filter.definition);
      if (filter.stage) void builder.where('stage', filter.stage);
      if (filter.approver) void builder.where('actor_id', filter.approver);
      if (filter.from) void builder.where('decided_at', '>=', instant(filter.from));
      if (filter.to) void builder.where('decided_at', '<', instant(filter.to));
      if (filter.status) {
        void builder.whereIn('approval_id', knex(CURRENT).select('approval_id').where({ tenant_id: tenantId, status: filter.status }));
      }
    })
    .orderBy([{ column: 'decided_at' }, { column: 'event_id' }]);
}

export interface HistoryRow {
  event_id: string;
  approval_id: string;
  definition_id: string;
  round: number;
  stage: string;
  decision: string;
  actor_id: string;
  actor_role: string;
  comment: string | null;
  decided_at: string;
  segregation_of_duties: boolean;
  unit_price_minor: string | number;
  currency: string;
  drafted_by: string;
  submitted_by: string;
}

export function historyView(row: HistoryRow) {
  return {
    eventId: row.event_id,
    approvalId: row.approval_id,
    definitionId: row.definition_id,
    round: row.round,
    stage: row.stage,
    decision: row.decision,
    actorId: row.actor_id,
    actorRole: row.actor_role,
    comment: row.comment,
    decidedAt: row.decided_at,
    segregationOfDuties: Boolean(row.segregation_of_duties),
    // What was under review in the decision's round, and who made it.
    unitPriceMinor: Number(row.unit_price_minor),
    currency: row.currency,
    draftedBy: row.drafted_by,
    submittedBy: row.submitted_by,
  };
}

export async function approvalExists(knex: Knex, tenantId: string, approvalId: string): Promise<boolean> {
  if (!(await knex.schema.hasTable(CURRENT))) return false;
  return (await knex(CURRENT).where({ tenant_id: tenantId, approval_id: approvalId }).first()) !== undefined;
}

/**
 * Every matching decision, a page at a time (keyset pagination on the sort key), so an export of
 * any size holds one page in memory and works on PGlite as on the server.
 */
export async function* historyPages(knex: Knex, tenantId: string, filter: ApprovalFilterQuery, pageSize = 1000): AsyncGenerator<HistoryRow[]> {
  let after: { decided_at: string; event_id: string } | undefined;
  for (;;) {
    const page: HistoryRow[] = await historyQuery(knex, tenantId, filter)
      .modify((builder) => {
        if (after) void builder.whereRaw('(decided_at, event_id) > (?, ?::uuid)', [after.decided_at, after.event_id]);
      })
      .limit(pageSize);
    if (page.length > 0) yield page;
    if (page.length < pageSize) return;
    const last = page[page.length - 1];
    after = { decided_at: last.decided_at, event_id: last.event_id };
  }
}
