import { Controller, Get, Inject, Param, Query, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Readable } from 'node:stream';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import { Allow, ANY_ROLE } from '../auth/access-policy';
import { rejected } from '../errors/proofline-error';
import { safeCsvStringifier } from '../http/csv-cells';
import { Caller, type RequestContext } from '../http/request-context';
import type { Role } from '../workspaces/events';
import { streamIdFor } from '../commands/stream-id';
import { goLiveDecider } from '../go-live/go-live.decider';
import { RequestValidationError } from '../http/validation';
import { endOfLocalDay } from '../value-calculations/decide-time-zone';
import { approvalAsOf, type AsOf } from './approval-as-of';
import { approvalExists, historyPages, historyQuery, historyView, listApprovals, type HistoryRow } from './approval-queries';
import { ApprovalFilterQuery, ApprovalListQuery, ApprovalParams, AsOfQuery } from './approvals.dto';

const FINANCE_READERS: readonly Role[] = ['ADMIN', 'CUSTOMER_ADMIN', 'FINANCE', 'AUDITOR'];
const CSV_COLUMNS: ReadonlyArray<[keyof HistoryRow, string]> = [
  ['approval_id', 'approval_id'],
  ['definition_id', 'definition_id'],
  ['round', 'round'],
  ['stage', 'stage'],
  ['decision', 'decision'],
  ['actor_id', 'actor_id'],
  ['actor_role', 'actor_role'],
  ['comment', 'comment'],
  ['decided_at', 'decided_at'],
  ['event_id', 'event_id'],
  // Added last, so readers that take columns by position keep working.
  ['segregation_of_duties', 'segregation_of_duties'],
  ['unit_price_minor', 'unit_price_minor'],
  ['currency', 'currency'],
  ['drafted_by', 'drafted_by'],
  ['submitted_by', 'submitted_by'],
];

/** Finance's questions, months later: who approved what, when, at which stage, and how it stood on a date. */
@ApiTags('approvals')
@ApiBearerAuth()
@Controller('approvals')
export class FinanceController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure) {}

  @Get()
  @Allow(ANY_ROLE)
  @ApiOperation({ summary: 'Approvals as they stand, filtered (status, stage, approver, definition, from/to on the last change), sorted and paged' })
  list(@Caller() caller: RequestContext, @Query() query: ApprovalListQuery) {
    return listApprovals(this.infrastructure.database.knex, caller.tenantId, query);
  }

  @Get('history.csv')
  @Allow(FINANCE_READERS)
  @ApiProduces('text/csv')
  @ApiOperation({ summary: 'Every decision matching the filters (from/to on the decision time) as CSV, streamed a page at a time' })
  historyCsv(@Caller() caller: RequestContext, @Query() filter: ApprovalFilterQuery): StreamableFile {
    const rows = Readable.from(
      (async function* (pages) {
        for await (const page of pages) yield* page;
      })(historyPages(this.infrastructure.database.knex, caller.tenantId, filter)),
    );
    const csv = safeCsvStringifier({ header: true, columns: CSV_COLUMNS.map(([key, header]) => ({ key, header })) });
    rows.on('error', (error) => csv.destroy(error));
    return new StreamableFile(rows.pipe(csv), { type: 'text/csv; charset=utf-8', disposition: 'attachment; filename="approval-history.csv"' });
  }

  @Get(':approvalId/history')
  @Allow(ANY_ROLE)
  @ApiOperation({ summary: "One approval's decisions, oldest first: round, stage, decision, who, with which role, comment, when, event id" })
  async history(@Caller() caller: RequestContext, @Param() params: ApprovalParams) {
    const { knex } = this.infrastructure.database;
    if (!(await approvalExists(knex, caller.tenantId, params.approvalId))) throw rejected.notFound('APPROVAL.NOT_FOUND', 'no such approval');
    const rows: HistoryRow[] = await historyQuery(knex, caller.tenantId, { approvalId: params.approvalId });
    return { approvalId: params.approvalId, decisions: rows.map(historyView) };
  }

  @Get(':approvalId')
  @Allow(ANY_ROLE)
  @ApiOperation({ summary: "The approval now, or as it stood at ?asOf= (an instant with its offset, or a date: the end of that day in the tenant's billing time zone), reconstructed from its signed events" })
  async get(@Caller() caller: RequestContext, @Param() params: ApprovalParams, @Query() query: AsOfQuery) {
    return approvalAsOf(this.infrastructure.store, this.infrastructure.signer, caller.tenantId, params.approvalId, await this.asOf(caller.tenantId, query.asOf));
  }

  private async asOf(tenantId: string, asOf: string | undefined): Promise<AsOf | undefined> {
    if (asOf === undefined) return undefined;
    if (asOf.includes('T')) return { instant: inInstantRange(asOf, asOf) };
    const { state } = await this.infrastructure.states.loadCurrent(goLiveDecider, streamIdFor('golive', tenantId));
    return { instant: inInstantRange(endOfLocalDay(asOf, state.billingTimeZone), asOf), day: { date: asOf, timeZone: state.billingTimeZone } };
  }
}

const FIRST_INSTANT = Date.parse('0001-01-01T00:00:00.000Z');
const LAST_INSTANT = Date.parse('9999-12-31T23:59:59.999Z');

/** Instants are compared as ISO text, which orders them only within years 0001–9999 (UTC). */
function inInstantRange(instant: string, asOf: string): string {
  const at = Date.parse(instant);
  if (at >= FIRST_INSTANT && at <= LAST_INSTANT) return instant;
  throw new RequestValidationError([{ field: 'asOf', rule: 'instant-range', message: `asOf (${asOf}) must fall between 0001-01-01 and 9999-12-31 UTC` }]);
}
