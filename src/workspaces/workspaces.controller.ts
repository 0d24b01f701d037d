import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Patch, Post, Put, Query, Res } from '@nestjs/common';
import { Allow, ANY_ROLE } from '../auth/access-policy';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import type { CommandOutcome, CommandRequest } from '../commands/command-pipeline';
import { ExecuteDomainCommand } from '../commands/execute-domain-command';
import { streamIdFor } from '../commands/stream-id';
import { rejected } from '../errors/proofline-error';
import { formatPosition } from '../eventstore/global-position';
import { commandResponse, CommandResponse, expectedVersionFrom } from '../http/command-response';
import { Caller, commandContext, requireTenant, type RequestContext } from '../http/request-context';
import type { WorkspaceCommand } from './decide';
import { workspaceDecider } from './workspace.decider';
import { ADMINISTRATIVE_ROLES } from './events';
import { ApprovalPolicyDto, ChangePlanDto, CloseWorkspaceDto, RenameWorkspaceDto, StreamPageQuery } from './workspace.dto';

const TENANT = { tenantParam: 'workspaceId' };
const workspaceNotFound = () => rejected.notFound('WORKSPACE.NOT_FOUND', 'no such workspace');

@ApiTags('workspaces')
@ApiBearerAuth()
@ApiHeader({ name: 'Idempotency-Key', required: false, description: 'retries with the same key return the first outcome' })
@Controller('workspaces')
export class WorkspacesController {
  constructor(
    private readonly commandBus: CommandBus,
    @Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure,
  ) {}

  @Get(':workspaceId')
  @Allow(ANY_ROLE, TENANT)
  @ApiOperation({ summary: 'The workspace as its events say it is now' })
  async get(@Caller() caller: RequestContext, @Param('workspaceId') workspaceId: string, @Res({ passthrough: true }) reply: FastifyReply) {
    const tenantId = requireTenant(caller, workspaceId, workspaceNotFound);
    const loaded = await this.infrastructure.states.loadCurrent(workspaceDecider, streamIdFor('workspace', tenantId));
    if (loaded.state.status === 'unregistered' || loaded.version === undefined) throw workspaceNotFound();
    void reply.header('etag', `"${loaded.version}"`);
    const { workspaceId: id, name, planTier, status } = loaded.state;
    return { workspaceId: id, name, planTier, status, version: loaded.version };
  }

  @Get(':workspaceId/events')
  @Allow([...ADMINISTRATIVE_ROLES, 'AUDITOR'], TENANT)
  @ApiOperation({ summary: "The workspace's signed events, each verified against the published keys" })
  async events(@Caller() caller: RequestContext, @Param('workspaceId') workspaceId: string, @Query() page: StreamPageQuery) {
    const tenantId = requireTenant(caller, workspaceId, workspaceNotFound);
    const recorded = await this.infrastructure.store.readStream(streamIdFor('workspace', tenantId), { fromVersion: page.fromVersion, maxCount: page.limit });
    if (recorded.length === 0 && page.fromVersion === 0) throw workspaceNotFound();
    return {
      events: recorded.map((event) => ({
        streamVersion: event.streamVersion,
        position: formatPosition(event.position),
        verification: this.infrastructure.signer.verifyRecorded(event),
        envelope: event.envelope,
      })),
    };
  }

  @Patch(':workspaceId')
  @Allow(ADMINISTRATIVE_ROLES, TENANT)
  @ApiOperation({ summary: 'Rename a workspace (no event when the name is unchanged)' })
  @ApiHeader({ name: 'If-Match', required: false, description: 'the version you last saw; 409 if the stream moved on' })
  rename(@Caller() caller: RequestContext, @Param('workspaceId') workspaceId: string, @Body() body: RenameWorkspaceDto, @Headers('if-match') ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.change(caller, workspaceId, { type: 'RenameWorkspace', name: body.name }, ifMatch, reply);
  }

  @Put(':workspaceId/plan')
  @Allow(ADMINISTRATIVE_ROLES, TENANT)
  @ApiOperation({ summary: "Change a workspace's plan tier (FREE, PLUS, PRO)" })
  changePlan(@Caller() caller: RequestContext, @Param('workspaceId') workspaceId: string, @Body() body: ChangePlanDto, @Headers('if-match') ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.change(caller, workspaceId, { type: 'ChangePlan', planTier: body.planTier }, ifMatch, reply);
  }

  @Post(':workspaceId/close')
  @Allow(ADMINISTRATIVE_ROLES, TENANT)
  @HttpCode(200)
  @ApiOperation({ summary: 'Close a workspace; it accepts no further changes' })
  close(@Caller() caller: RequestContext, @Param('workspaceId') workspaceId: string, @Body() body: CloseWorkspaceDto, @Headers('if-match') ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.change(caller, workspaceId, { type: 'CloseWorkspace', reason: body.reason }, ifMatch, reply);
  }

  @Put(':workspaceId/approval-policy')
  @Allow(ADMINISTRATIVE_ROLES, TENANT)
  @ApiOperation({ summary: "Set the workspace's approval rules with a reason (segregation of duties: on by default; only an ADMIN turns it off)" })
  setApprovalPolicy(@Caller() caller: RequestContext, @Param('workspaceId') workspaceId: string, @Body() body: ApprovalPolicyDto, @Headers('if-match') ifMatch: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.change(caller, workspaceId, { type: 'SetApprovalPolicy', segregationOfDuties: body.segregationOfDuties, reason: body.reason, changedBy: { userId: caller.actor.id, role: caller.role } }, ifMatch, reply);
  }

  private async change(caller: RequestContext, workspaceId: string, command: WorkspaceCommand, ifMatch: string | undefined, reply: FastifyReply): Promise<CommandResponse> {
    const tenantId = requireTenant(caller, workspaceId, workspaceNotFound);
    const outcome = await this.execute({
      streamId: streamIdFor('workspace', tenantId),
      command,
      context: commandContext(caller, tenantId),
      expectedVersion: expectedVersionFrom(ifMatch),
    });
    return commandResponse(outcome, reply);
  }

  private execute(request: CommandRequest<WorkspaceCommand>): Promise<CommandOutcome> {
    return this.commandBus.execute(new ExecuteDomainCommand(workspaceDecider, request));
  }
}
