import { Body, Controller, Get, HttpCode, Inject, Param, Post, Put, Query, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { newEventId } from '../../contracts';
import { goLiveStatusProjector } from '../../projections/go-live-status.projector';
import { tablesOf } from '../../projections/runtime/tables';
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
import { stepDone } from '../setup/state';
import { listCalculations } from '../value-calculations/calculation-list';
import type { CalculationContext, Measurement } from '../value-calculations/decide';
import { canonicalTimeZone } from '../value-calculations/decide-time-zone';
import { valueCalculationDecider } from '../value-calculations/value-calculation.decider';
import { RequestValidationError } from '../http/validation';
import type { Role } from '../workspaces/events';
import { CLOCK, type Clock } from './clock';
import { preflight } from './decide';
import { goLiveDecider } from './go-live.decider';
import {
  AdjustValueCalculationDto,
  AlertDto,
  AlertParams,
  BillingTimeZoneDto,
  CalculationParams,
  ResolveAlertDto,
  SetupStepDto,
  SetupStepParams,
  ValueCalculationDto,
  ValueCalculationListQuery,
  VoidValueCalculationDto,
} from './go-live.dto';
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
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Post('setup/steps/:step')
  @Allow(OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: `Record a setup step (${SETUP_STEPS.join(' → ')}, in order) with its configuration; its checks are recorded with it, passed or not` })
  async recordSetupStep(@Caller() caller: RequestContext, @Param() params: SetupStepParams, @Body() body: SetupStepDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const outcome = await this.execute(setupDecider, streamIdFor('setup', caller.tenantId), caller, this.now(), { type: 'RecordSetupStep', step: params.step, configuration: body.configuration });
    const [recorded] = await this.infrastructure.store.readStream(outcome.streamId, { fromVersion: outcome.events[0]?.streamVersion ?? outcome.version, maxCount: 1 });
    return { ...(recorded?.envelope.data ?? {}), ...commandResponse(outcome, reply) };
  }

  @Get('setup')
  @Allow(ANY_ROLE)
  @ApiOperation({ summary: 'Each setup step: whether its latest attempt passed, and whether it went stale because an earlier step was recorded again' })
  async setup(@Caller() caller: RequestContext) {
    const { state } = await this.infrastructure.states.loadCurrent(setupDecider, streamIdFor('setup', caller.tenantId));
    return {
      steps: SETUP_STEPS.map((step) => ({ step, passed: state.steps[step]?.passed ?? null, stale: state.steps[step]?.stale ?? false })),
      complete: SETUP_STEPS.every((step) => stepDone(state, step)),
      baseline: state.baseline,
    };
  }

  @Post('value-definitions/:definitionId/calculations')
  @Allow(OPERATORS)
  @ApiOperation({
    summary: 'Record a measured period of an approved definition: quantity, amount (quantity × unit price), the samples that measured it (accuracy = matched / total), source',
  })
  async recordCalculation(@Caller() caller: RequestContext, @Param() params: DefinitionParams, @Body() body: ValueCalculationDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const calculationId = newEventId();
    const now = this.now();
    const context = await this.calculationContext(caller, params.definitionId, now);
    const outcome = await this.execute(valueCalculationDecider, streamIdFor('valuecalc', caller.tenantId, params.definitionId), caller, now, {
      type: 'RecordValueCalculation',
      calculationId,
      ...context,
      ...measurement(body),
    });
    void reply.status(outcome.replayed ? 200 : 201);
    return { calculationId: await this.recordedId(outcome, 'calculationId', calculationId), ...commandResponse(outcome, reply) };
  }

  @Post('value-definitions/:definitionId/calculations/:calculationId/adjust')
  @Allow(OPERATORS)
  @ApiOperation({ summary: 'Correct a calculation: a new one (with a reason) takes its place; the original stays in the history as SUPERSEDED and no longer counts' })
  async adjustCalculation(@Caller() caller: RequestContext, @Param() params: CalculationParams, @Body() body: AdjustValueCalculationDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const calculationId = newEventId();
    const now = this.now();
    const context = await this.calculationContext(caller, params.definitionId, now);
    const outcome = await this.execute(valueCalculationDecider, streamIdFor('valuecalc', caller.tenantId, params.definitionId), caller, now, {
      type: 'AdjustValueCalculation',
      calculationId,
      adjusts: params.calculationId,
      reason: body.reason,
      ...context,
      ...measurement(body),
    });
    void reply.status(outcome.replayed ? 200 : 201);
    return { calculationId: await this.recordedId(outcome, 'calculationId', calculationId), adjusts: params.calculationId, ...commandResponse(outcome, reply) };
  }

  @Post('value-definitions/:definitionId/calculations/:calculationId/void')
  @Allow(OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Void a calculation (with a reason): it no longer counts in totals or accuracy and stays in the history as VOIDED' })
  async voidCalculation(@Caller() caller: RequestContext, @Param() params: CalculationParams, @Body() body: VoidValueCalculationDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const { state } = await this.infrastructure.states.loadCurrent(approvalDecider, streamIdFor('valuedef', caller.tenantId, params.definitionId));
    if (state.status === 'none') throw definitionNotFound();
    const outcome = await this.execute(valueCalculationDecider, streamIdFor('valuecalc', caller.tenantId, params.definitionId), caller, this.now(), {
      type: 'VoidValueCalculation',
      definitionId: params.definitionId,
      calculationId: params.calculationId,
      reason: body.reason,
    });
    return { calculationId: params.calculationId, ...commandResponse(outcome, reply) };
  }

  @Put('billing/time-zone')
  @Allow(GO_LIVE)
  @HttpCode(200)
  @ApiOperation({ summary: "Set the workspace's billing time zone (an IANA name such as Europe/Berlin; UTC until set): billing periods start and end at 00:00 there" })
  async setBillingTimeZone(@Caller() caller: RequestContext, @Body() body: BillingTimeZoneDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const timeZone = canonicalTimeZone(body.timeZone);
    if (timeZone === null) {
      throw new RequestValidationError([{ field: 'timeZone', rule: 'iana-time-zone', message: `timeZone must be an IANA time zone name such as Europe/Berlin or UTC, not ${JSON.stringify(body.timeZone)}` }]);
    }
    const outcome = await this.execute(goLiveDecider, streamIdFor('golive', caller.tenantId), caller, this.now(), { type: 'SetBillingTimeZone', timeZone });
    return { timeZone, ...commandResponse(outcome, reply) };
  }

  @Get('value-calculations')
  @Allow(ANY_ROLE)
  @ApiOperation({
    summary:
      "The tenant's calculations (voided and superseded ones included, with their status), newest period end first, by keyset (limit ≤ 200, cursor), filtered by definitionId, currency, status, periodEndFrom/To; totals per currency over every RECORDED calculation the filters select",
  })
  calculations(@Caller() caller: RequestContext, @Query() query: ValueCalculationListQuery) {
    const { limit, cursor, periodEndFrom, periodEndTo, ...filter } = query;
    // Period ends are stored as toISOString() text and compared as text: a bound given with an
    // offset or without milliseconds (both valid RFC 3339) must be the same instant in that form.
    const bounds = { ...(periodEndFrom === undefined ? {} : { periodEndFrom: utc(periodEndFrom) }), ...(periodEndTo === undefined ? {} : { periodEndTo: utc(periodEndTo) }) };
    return listCalculations(this.infrastructure.database.knex, caller.tenantId, { ...filter, ...bounds }, limit, cursor);
  }

  @Post('alerts')
  @Allow(OPERATORS)
  @ApiOperation({ summary: 'Raise an alert (critical ones block go-live)' })
  async raiseAlert(@Caller() caller: RequestContext, @Body() body: AlertDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const alertId = newEventId();
    const outcome = await this.execute(goLiveDecider, streamIdFor('golive', caller.tenantId), caller, this.now(), { type: 'RaiseAlert', alertId, severity: body.severity, message: body.message });
    void reply.status(outcome.replayed ? 200 : 201);
    return { alertId: await this.recordedId(outcome, 'alertId', alertId), ...commandResponse(outcome, reply) };
  }

  @Post('alerts/:alertId/resolve')
  @Allow(OPERATORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Resolve an alert' })
  async resolveAlert(@Caller() caller: RequestContext, @Param() params: AlertParams, @Body() body: ResolveAlertDto, @Res({ passthrough: true }) reply: FastifyReply) {
    return commandResponse(await this.execute(goLiveDecider, streamIdFor('golive', caller.tenantId), caller, this.now(), { type: 'ResolveAlert', alertId: params.alertId, resolution: body.resolution }), reply);
  }

  @Get('go-live')
  @Allow(ANY_ROLE)
  @ApiOperation({ summary: "The tenant's go-live status and the preflight as it would run now (every check, passed or not)" })
  async status(@Caller() caller: RequestContext) {
    const { knex } = this.infrastructure.database;
    const [facts, { state }, row] = await Promise.all([
      gatherPreflightFacts(knex, this.infrastructure.store, this.infrastructure.states, caller.tenantId, this.now()),
      this.infrastructure.states.loadCurrent(goLiveDecider, streamIdFor('golive', caller.tenantId)),
      knex(tablesOf(goLiveStatusProjector, 'live').tables.tenants).where({ tenant_id: caller.tenantId }).first(),
    ]);
    return {
      live: state.live,
      liveSince: row?.live_since ?? null,
      billing: state.live ? (state.billingSuspended ? 'SUSPENDED' : 'ACTIVE') : 'NOT_LIVE',
      billingTimeZone: state.billingTimeZone,
      openAlerts: state.openAlerts,
      preflight: { facts, checks: preflight(facts, state) },
    };
  }

  @Post('go-live')
  @Allow(GO_LIVE)
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Switch on value-based billing: only with the read models current, setup complete and fresh, approvals complete, baselines matching, every approved definition measured at ≥ 85 % and no critical alert; otherwise 422 listing every failed check',
  })
  async activate(@Caller() caller: RequestContext, @Res({ passthrough: true }) reply: FastifyReply) {
    const now = this.now();
    const facts = await gatherPreflightFacts(this.infrastructure.database.knex, this.infrastructure.store, this.infrastructure.states, caller.tenantId, now);
    return commandResponse(await this.execute(goLiveDecider, streamIdFor('golive', caller.tenantId), caller, now, { type: 'ActivateGoLive', facts }), reply);
  }

  /**
   * What a calculation is decided against: the definition as its stream has it now (status,
   * price, currency, when its approval completed), the tenant's billing time zone, and now.
   */
  private async calculationContext(caller: RequestContext, definitionId: string, now: string): Promise<CalculationContext> {
    const definitionStream = streamIdFor('valuedef', caller.tenantId, definitionId);
    const [{ state }, { state: goLive }, approvedAt] = await Promise.all([
      this.infrastructure.states.loadCurrent(approvalDecider, definitionStream),
      this.infrastructure.states.loadCurrent(goLiveDecider, streamIdFor('golive', caller.tenantId)),
      this.approvedAt(definitionStream),
    ]);
    if (state.status === 'none') throw definitionNotFound();
    return {
      definition: { definitionId: state.definitionId, status: state.status, unitPriceMinor: state.definition.unitPriceMinor, currency: state.definition.currency, approvedAt },
      billingTimeZone: goLive.billingTimeZone,
      now,
    };
  }

  /** When the definition's approval completed (its `approvals.completed` event), or null. */
  private async approvedAt(streamId: string): Promise<string | null> {
    const events = await this.infrastructure.store.readStream(streamId);
    return events.filter((event) => event.envelope.type === 'approvals.completed').at(-1)?.envelope.occurredAt ?? null;
  }

  /** A replayed request answers with the id its first run recorded, not the one made up for the retry. */
  private async recordedId(outcome: CommandOutcome, field: string, fresh: string): Promise<string> {
    if (!outcome.replayed || outcome.events.length === 0) return fresh;
    const [first] = await this.infrastructure.store.readStream(outcome.streamId, { fromVersion: outcome.events[0].streamVersion, maxCount: 1 });
    return String(first.envelope.data[field]);
  }

  /** The request's instant, from the Clock port: read once, so the decision and its events' occurredAt agree. */
  private now(): string {
    return this.clock.now().toISOString();
  }

  /** `now` is the instant the command is decided at and its events' occurredAt. */
  private execute<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, streamId: string, caller: RequestContext, now: string, command: C): Promise<CommandOutcome> {
    return this.commandBus.execute(new ExecuteDomainCommand(decider, { streamId, command, context: { ...commandContext(caller, caller.tenantId), now } }));
  }
}

/** An RFC 3339 instant (validated: it names its offset) in the one form instants are stored and compared in. */
function utc(instant: string): string {
  return new Date(instant).toISOString();
}

/** The measured period as the decider takes it: instants normalised to UTC (`toISOString`). */
function measurement(body: ValueCalculationDto): Measurement {
  return {
    periodStart: utc(body.periodStart),
    periodEnd: utc(body.periodEnd),
    quantity: body.quantity,
    amountMinor: body.amountMinor,
    sampleSize: body.sampleSize,
    matchedSamples: body.matchedSamples,
    source: body.source,
  };
}
