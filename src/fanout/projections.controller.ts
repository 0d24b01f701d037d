import { Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { tenantActivityProjector } from '../../projections/tenant-activity.projector';
import { tablesOf } from '../../projections/runtime/tables';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import { Allow, ANY_ROLE } from '../auth/access-policy';

@ApiTags('projections')
@ApiBearerAuth()
@Controller()
export class ProjectionsController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure) {}

  @Get('projections/status')
  @Allow(['ADMIN'])
  @ApiOperation({ summary: "Every projector's position, lag (events, seconds) and state, the relay's, and whether this process's receipt builder holds its lease (ADMIN: operators only)" })
  async status() {
    return { ...(await this.infrastructure.fanout.status()), ledgerBuilder: this.infrastructure.ledgerRunner.status() };
  }

  @Get('workspaces/:workspaceId/activity')
  @Allow(ANY_ROLE, { tenantParam: 'workspaceId' })
  @ApiOperation({ summary: "The workspace's events per type and day, from the tenant_activity projection" })
  async activity(@Param('workspaceId') workspaceId: string) {
    const table = tablesOf(tenantActivityProjector, 'live').tables.daily;
    const { knex } = this.infrastructure.database;
    if (!(await knex.schema.hasTable(table))) return { activity: [] };
    const rows: Array<{ event_type: string; day: string; events: string; last_occurred_at: string }> = await knex(table).where({ tenant_id: workspaceId }).orderBy(['day', 'event_type']);
    return { activity: rows.map((row) => ({ day: row.day, eventType: row.event_type, events: Number(row.events), lastOccurredAt: row.last_occurred_at })) };
  }
}
