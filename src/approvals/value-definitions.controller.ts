import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { newEventId } from '../../contracts';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import { Allow, ANY_ROLE } from '../auth/access-policy';
import type { CommandOutcome } from '../commands/command-pipeline';
import { ExecuteDomainCommand } from '../commands/execute-domain-command';
import { streamIdFor } from '../commands/stream-id';
import { ProoflineError, rejected } from '../errors/proofline-error';
import { commandResponse, expectedVersionFrom } from '../http/command-response';
import { Caller, commandContext, type RequestContext } from '../http/request-context';
import type { Role } from '../workspaces/events';
import { workspaceDecider } from '../workspaces/workspace.decider';
import { approvalDecider } from './approval.decider';
import { ApproveStageDto, DefinitionChangesQuery, DefinitionParams, EditValueDefinitionDto, ReasonDto, StageParams, ValueDefinitionDto } from './approvals.dto';
import type { ApprovalCommand } from './decide';
import { definitionChanges } from './definition-changes';
import { verifiedDefinitionStream } from './verified-stream';
import { STAGE_ROLES, type Stage } from './events';

const AUTHORS: readonly Role[] = ['ADMIN', 'CUSTOMER_ADMIN', 'FINANCE'];
const DECIDERS: readonly Role[] = ['ADMIN', 'CUSTOMER_ADMIN', 'FINANCE', 'TECHNICAL'];

/**
 * Value definitions and the decisions on their approval. An approval's id is its definition's
 * id (one approval per definition, in rounds), so a decision needs no lookup in a read model.
 */
@ApiTags('approvals')
@ApiBearerAuth()
@Controller()
export class ValueDefinitionsController {
  constructor(
    private readonly commandBus: CommandBus,
    @Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure,
  ) {}

  @Post('value-definitions')
  @Allow(AUTHORS)
  @ApiOperation({ summary: 'Draft a value definition: a metric the customer pays for (unit price in minor units)' })
  async draft(@Caller() caller: RequestContext, @Body() body: ValueDefinitionDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const definitionId = newEventId();
    const outcome = await this.execute(caller, definitionId, { type: 'DraftDefinition', definitionId, definition: { ...body }, draftedBy: caller.actor.id });
    void reply.status(outcome.replayed ? 200 : 201);
    return { definitionId: outcome.streamId.split('.')[1], ...commandResponse(outcome, reply) };
  }

  @Get('value-definitions/:definitionId')
  @Allow(ANY_ROLE)
  @ApiOperation({ summary: 'A value definition and its approval as they stand' })
  async get(@Caller() caller: RequestContext, @Param() params: DefinitionParams, @Res({ passthrough: true }) reply: FastifyReply) {
    const loaded = await this.infrastructure.states.loadCurrent(approvalDecider, streamIdFor('valuedef', caller.tenantId, params.definitionId));
    if (loaded.state.status === 'none' || loaded.version === undefined) throw definitionNotFound();
    void reply.header('etag', `"${loaded.version}"`);
    const { definitionId, definition, status, approvalId, round, stage, segregationOfDuties } = loaded.state;
    return { definitionId, ...definition, status, approvalId, round, stage, segregationOfDuties, version: loaded.version };
  }

  @Patch('value-definitions/:definitionId')
  @Allow(AUTHORS)
  @ApiOperation({ summary: 'Edit a draft (no event when nothing changes)' })
  async edit(@Caller() caller: RequestContext, @Param() params: DefinitionParams, @Body() body: EditValueDefinitionDto, @Headers('if-match') ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    // Optional is not nullable: a field sent as null would erase it from the definition.
    const nulls = Object.entries(body).filter(([, value]) => value === null).map(([field]) => field);
    if (nulls.length > 0) {
      throw new ProoflineError('REQUEST.INVALID', `${nulls.join(', ')} must not be null (leave a field out to keep it)`, 400, {
        fields: nulls.map((field) => ({ field, rule: 'not-null', message: `${field} must not be null` })),
      });
    }
    return commandResponse(await this.execute(caller, params.definitionId, { type: 'EditDefinition', changes: { ...body }, editedBy: caller.actor.id }, ifMatch), reply);
  }

  @Get('value-definitions/:definitionId/changes')
  @Allow(ANY_ROLE)
  @ApiOperation({
    summary:
      "Every value each field took (?field= for one, e.g. unitPriceMinor), oldest first: from, to, who set it (user, role) and when, and what the approval made of it (the last round that reviewed it, its submitter and decisions, approved or not), from the definition's verified events",
  })
  async changes(@Caller() caller: RequestContext, @Param() params: DefinitionParams, @Query() query: DefinitionChangesQuery) {
    const { kept } = await verifiedDefinitionStream(this.infrastructure.store, this.infrastructure.signer, caller.tenantId, params.definitionId, definitionNotFound);
    const events = kept.map(({ envelope }) => ({ id: envelope.id, type: envelope.type, occurredAt: envelope.occurredAt, actor: envelope.actor, data: envelope.data as Record<string, unknown> }));
    return { definitionId: params.definitionId, field: query.field ?? null, changes: definitionChanges(events, query.field) };
  }

  @Post('value-definitions/:definitionId/submit')
  @Allow(AUTHORS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Submit a draft for approval: starts round 1, or the next round after changes were requested' })
  async submit(@Caller() caller: RequestContext, @Param() params: DefinitionParams, @Headers('if-match') ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    // The tenant's rule at submission time is recorded in the round, so a later policy change does not rewrite a running approval.
    const { state } = await this.infrastructure.states.loadCurrent(workspaceDecider, streamIdFor('workspace', caller.tenantId));
    const segregationOfDuties = state.status === 'unregistered' ? true : state.segregationOfDuties;
    const outcome = await this.execute(caller, params.definitionId, { type: 'Submit', approvalId: params.definitionId, segregationOfDuties, submittedBy: caller.actor.id }, ifMatch);
    return { approvalId: params.definitionId, ...commandResponse(outcome, reply) };
  }

  @Post('approvals/:approvalId/stages/:stage/approve')
  @Allow(DECIDERS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Approve the stage now due (FINANCE by FINANCE, TECHNICAL by TECHNICAL, FINAL by ADMIN or CUSTOMER_ADMIN); the Final approval completes it' })
  async approve(@Caller() caller: RequestContext, @Param() params: StageParams, @Body() body: ApproveStageDto, @Res({ passthrough: true }) reply: FastifyReply) {
    // The stage's time is the envelope's: the completion lists each stage's decider with it.
    const context = commandContext(caller, caller.tenantId);
    const command: ApprovalCommand = { type: 'ApproveStage', stage: params.stage, decidedBy: deciderOf(caller, params.stage), comment: body.comment ?? null, decidedAt: context.now };
    return commandResponse(await this.execute(caller, params.approvalId, command, undefined, context), reply);
  }

  @Post('approvals/:approvalId/stages/:stage/request-changes')
  @Allow(DECIDERS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Send the definition back to draft with a reason; its next submission starts a new round' })
  async requestChanges(@Caller() caller: RequestContext, @Param() params: StageParams, @Body() body: ReasonDto, @Res({ passthrough: true }) reply: FastifyReply) {
    return commandResponse(await this.decide(caller, params, { type: 'RequestChanges', stage: params.stage, decidedBy: deciderOf(caller, params.stage), reason: body.reason }), reply);
  }

  @Post('approvals/:approvalId/stages/:stage/reject')
  @Allow(DECIDERS)
  @HttpCode(200)
  @ApiOperation({ summary: 'Reject the definition (final) with a reason' })
  async reject(@Caller() caller: RequestContext, @Param() params: StageParams, @Body() body: ReasonDto, @Res({ passthrough: true }) reply: FastifyReply) {
    return commandResponse(await this.decide(caller, params, { type: 'Reject', stage: params.stage, decidedBy: deciderOf(caller, params.stage), reason: body.reason }), reply);
  }

  private decide(caller: RequestContext, params: StageParams, command: ApprovalCommand): Promise<CommandOutcome> {
    return this.execute(caller, params.approvalId, command);
  }

  private execute(caller: RequestContext, definitionId: string, command: ApprovalCommand, ifMatch?: string, context = commandContext(caller, caller.tenantId)): Promise<CommandOutcome> {
    return this.commandBus.execute(
      new ExecuteDomainCommand(approvalDecider, {
        streamId: streamIdFor('valuedef', caller.tenantId, definitionId),
        command,
        context,
        expectedVersion: expectedVersionFrom(ifMatch),
      }),
    );
  }
}

/**
 * The decider's role for this stage: of the credential's roles, one the stage admits if there is
 * one. Decisions are a person's: an API key is a machine many people can hold, so segregation of
 * duties could not tell them apart.
 */
function deciderOf(caller: RequestContext, stage: Stage) {
  if (caller.principal.via === 'api-key') {
    throw new ProoflineError('APPROVAL.PERSON_REQUIRED', 'approval stages are decided by people signed in with their own account, not with an API key', 403, { stage });
  }
  const role = caller.principal.roles.find((candidate) => STAGE_ROLES[stage].includes(candidate)) ?? caller.role;
  return { userId: caller.actor.id, role };
}

export const definitionNotFound = () => rejected.notFound('VALUE_DEFINITION.NOT_FOUND', 'no such value definition');
