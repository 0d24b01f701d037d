import { Body, Controller, Get, HttpCode, Inject, Param, Post, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { newEventId } from '../../contracts';
import { goLiveStatusProjector } from '../../projections/go-live-status.projector';
import { tablesOf } from '../../projections/runtime/tables';
import { valueCalculationsProjector } from '../../projections/value-calculations.projector';
import { approvalDecider } from '../approvals/approval.decider';
import { DefinitionParams } from '../approvals/approvals.dto';
import { definitionNotFound } from '../approvals/value-definitions.controller';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import { Allow, ANY_ROLE } from '../auth/access-policy';
import type { Decider, DomainEvent } from '../commands/decider';
import type { CommandOutcome } from '../commands/command-pipeline';
import { ExecuteDomainCommand } from '../commands/execute-domain-command';
import { streamIdFor } from '../commands/stream-id';
import { commandResponse } from '../http/command-response';
import { Caller, commandContext, type RequestContext } from '../http/request-context';
import { SETUP_STEPS } from '../setup/events';
import { setupDecider } from '../setup/setup.decider';
import { valueCalculationDecider } from '../value-calculations/value-calculation.decider';
import type { Role } from '../workspaces/events';
import { preflight } from './decide';
import { goLiveDecider } from './go-live.decider';
import { AlertDto, AlertParams, ResolveAlertDto, SetupStepDto, SetupStepParams, ValueCalculationDto } from './go-live.dto';
import { gatherPreflightFacts } from './preflight-facts';

const OPERATORS: readonly Role[] = ['ADMIN', 'CUSTOMER_ADMIN', 'TECHNICAL'];
const GO_LIVE: readonly Role[] = ['ADMIN', 'CUSTOMER_ADMIN'];

/** Setup, measurements, alerts and the switch to value-based billing. */
@ApiTags('go-live')
@ApiBearerAuth()
@Controller()
export class GoLiveController {
  constructor(
    private readonly commandBus: CommandBus,
    @Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure,
  ) {}

  @Post('setup/steps/:step')
  @Allow(OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: `Record a setup step (${SETUP_STEPS.join(' → ')}, in order) with its configuration; its checks are recorded with it, passed or not` })
  async recordSetupStep(@Caller() caller: RequestContext, @Param() params: SetupStepParams, @Body() body: SetupStepDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const outcome = await this.execute(setupDecider, streamIdFor('setup', caller.tenantId), caller, { type: 'RecordSetupStep', step: params.step, configuration: body.configuration });
    const [recorded] = await this.infrastructure.store.readStream(outcome.streamId, { fromVersion: outcome.events[0]?.streamVersion ?? outcome.version, maxCount: 1 });
    return { ...(recorded?.envelope.data ?? {}), ...commandResponse(outcome, reply) };
  }

  @Get('setup')
  @Allow(ANY_ROLE)
  @ApiOperation({ summary: 'Each setup step and whether its latest attempt passed' })
  async setup(@Caller() caller: RequestContext) {
    const { state } = await this.infrastructure.states.loadCurrent(setupDecider, streamIdFor('setup', caller.tenantId));
    return { steps: SETUP_STEPS.map((step) => ({ step, passed: state.steps[step] ?? null })), complete: SETUP_STEPS.every((step) => state.steps[step] === true) };
  }

  @Post('value-definitions/:definitionId/calculations')
  @Allow(OPERATORS)
  @ApiOperation({ summary: 'Record a measured period of an approved definition: quantity, amount (quantity × unit price), accuracy, source' })
  async recordCalculation(@Caller() caller: RequestContext, @Param() params: DefinitionParams, @Body() body: ValueCalculationDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const { state } = await this.infrastructure.states.loadCurrent(approvalDecider, streamIdFor('valuedef', caller.tenantId, params.definitionId));
    if (state.status === 'none') throw definitionNotFound();
    const calculationId = newEventId();
    const outcome = await this.execute(valueCalculationDecider, streamIdFor('valuecalc', caller.tenantId, params.definitionId), caller, {
      type: 'RecordValueCalculation',
      calculationId,
      definition: { definitionId: state.definitionId, status: state.status, unitPriceMinor: state.definition.unitPriceMinor, currency: state.definition.currency },
      periodStart: new Date(body.periodStart).toISOString(),
      periodEnd: new Date(body.periodEnd).toISOString(),
      quantity: body.quantity,
      amountMinor: body.amountMinor,
      accuracyBasisPoints: Math.round(body.accuracyPercent * 100),
      source: body.source,
    });
    void reply.status(outcome.replayed ? 200 : 201);
    return { calculationId: await this.recordedId(outcome, 'calculationId', calculationId), ...commandResponse(outcome, reply) };
  }

  @Get('value-calculations')
  @Allow(ANY_ROLE)
  @ApiOperation({ summary: "The tenant's measured periods, newest first (from the value_calculations projection)" })
  async calculations(@Caller() caller: RequestContext) {
    const rows: Array<Record<string, string | number>> = await this.infrastructure.database
      .knex(tablesOf(valueCalculationsProjector, 'live').tables.calculations)
      .where({ tenant_id: caller.tenantId })
      .orderBy([{ column: 'period_end', order: 'desc' }, { column: 'calculation_id' }])
      .limit(500);
    return {
      calculations: rows.map((row) => ({
        calculationId: row.calculation_id,
        definitionId: row.definition_id,
        periodStart: row.period_start,
        periodEnd: row.period_end,
        quantity: Number(row.quantity),
        amountMinor: Number(row.amount_minor),
        currency: row.currency,
        accuracyPercent: Number(row.accuracy_basis_points) / 100,
        source: row.source,
      })),
    };
  }

  @Post('alerts')
  @Allow(OPERATORS)
  @ApiOperation({ summary: 'Raise an alert (critical ones block go-live)' })
  async raiseAlert(@Caller() caller: RequestContext, @Body() body: AlertDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const alertId = newEventId();
    const outcome = await this.execute(goLiveDecider, streamIdFor('golive', caller.tenantId), caller, { type: 'RaiseAlert', alertId, severity: body.severity, message: body.message });
    void reply.status(outcome.replayed ? 200 : 201);
    return { alertId: await this.recordedId(outcome, 'alertId', alertId), ...commandResponse(outcome, reply) };
  }

  @Post('alerts/:alertId/resolve')
  @Allow(OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Resolve an alert' })
  async resolveAlert(@Caller() caller: RequestContext, @Param() params: AlertParams, @Body() body: ResolveAlertDto, @Res({ passthrough: true }) reply: FastifyReply) {
    return commandResponse(await this.execute(goLiveDecider, streamIdFor('golive', caller.tenantId), caller, { type: 'ResolveAlert', alertId: params.alertId, resolution: body.resolution }), reply);
  }

  @Get('go-live')
  @Allow(ANY_ROLE)
  @ApiOperation({ summary: "The tenant's go-live status and the preflight as it would run now (every check, passed or not)" })
  async status(@Caller() caller: RequestContext) {
    const { knex } = this.infrastructure.database;
    const [facts, { state }, row] = await Promise.all([
      gatherPreflightFacts(knex, this.infrastructure.states, caller.tenantId),
      this.infrastructure.states.loadCurrent(goLiveDecider, streamIdFor('golive', caller.tenantId)),
      knex(tablesOf(goLiveStatusProjector, 'live').tables.tenants).where({ tenant_id: caller.tenantId }).first(),
    ]);
    return { live: state.live, liveSince: row?.live_since ?? null, openAlerts: state.openAlerts, preflight: { facts, checks: preflight(facts, state) } };
  }

  @Post('go-live')
  @Allow(GO_LIVE)
  @HttpCode(200)
  @ApiOperation({ summary: 'Switch on value-based billing: only with setup complete, approvals complete, recent accuracy ≥ 85 % and no critical alert; otherwise 422 listing every failed check' })
  async activate(@Caller() caller: RequestContext, @Res({ passthrough: true }) reply: FastifyReply) {
    const facts = await gatherPreflightFacts(this.infrastructure.database.knex, this.infrastructure.states, caller.tenantId);
    return commandResponse(await this.execute(goLiveDecider, streamIdFor('golive', caller.tenantId), caller, { type: 'ActivateGoLive', facts }), reply);
  }

  /** A replayed request answers with the id its first run recorded, not the one made up for the retry. */
  private async recordedId(outcome: CommandOutcome, field: string, fresh: string): Promise<string> {
    if (!outcome.replayed || outcome.events.length === 0) return fresh;
    const [first] = await this.infrastructure.store.readStream(outcome.streamId, { fromVersion: outcome.events[0].streamVersion, maxCount: 1 });
    return String(first.envelope.data[field]);
  }

  private execute<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, streamId: string, caller: RequestContext, command: C): Promise<CommandOutcome> {
    return this.commandBus.execute(new ExecuteDomainCommand(decider, { streamId, command, context: commandContext(caller, caller.tenantId) }));
  }
}
