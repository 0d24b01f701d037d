import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import { Allow } from '../auth/access-policy';
import { requireAdminAtHome } from '../auth/bootstrap';
import { INVITATION_LIFETIME_MS, issueInvitationToken } from '../auth/invitations';
import type { Client as ClientInfo } from '../auth/sessions';
import { normalizeEmail } from '../auth/user-repository';
import type { CommandOutcome } from '../commands/command-pipeline';
import { ExecuteDomainCommand } from '../commands/execute-domain-command';
import { streamIdFor } from '../commands/stream-id';
import { ProoflineError } from '../errors/proofline-error';
import { commandResponse } from '../http/command-response';
import { Caller, Client, commandContext, type RequestContext } from '../http/request-context';
import { invitationStatus, requireGrantAuthority, type MembershipCommand } from './decide-members';
import type { RegisteredWorkspace } from './state';
import { ADMINISTRATIVE_ROLES } from './events';
import { AddMemberDto, ChangeRoleDto, InvitationParams, MemberParams, RevokeInvitationDto } from './members.dto';
import { workspaceDecider } from './workspace.decider';

const MANAGE = { tenantParam: 'workspaceId' };

/**
 * Who belongs to a workspace and with which role; every change is a signed workspace event.
 * Nobody is made a member by someone else: an administrator invites an address, and the holder
 * of the invitation token joins (docs/security.md, "Invitations").
 */
@ApiTags('members')
@ApiBearerAuth()
@Controller('workspaces/:workspaceId')
export class MembersController {
  constructor(
    private readonly commandBus: CommandBus,
    @Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure,
  ) {}

  @Get('members')
  @Allow([...ADMINISTRATIVE_ROLES, 'AUDITOR'], MANAGE)
  @ApiOperation({ summary: "The workspace's members and their roles" })
  async list(@Caller() caller: RequestContext) {
    const workspace = await this.workspace(caller);
    const members = workspace.status === 'unregistered' ? {} : workspace.members;
    return { members: Object.entries(members).map(([userId, member]) => ({ userId, email: member.email, role: member.role })) };
  }

  @Post('members')
  @Allow(ADMINISTRATIVE_ROLES, MANAGE)
  @ApiOperation({
    summary:
      'Invite an address with a role: answers the invitation token once (valid 7 days). Hand it over; the invitee joins at POST /auth/invitations/accept. The answer is the same whether or not the address has an account',
  })
  async invite(@Caller() caller: RequestContext, @Body() body: AddMemberDto, @Res({ passthrough: true }) reply: FastifyReply) {
    if (body.initialPassword !== undefined) {
      const message = 'members join by invitation: hand the invitation token over and the invitee chooses (or proves) the password when accepting';
      throw new ProoflineError('REQUEST.INVALID', message, 400, { fields: [{ field: 'initialPassword', rule: 'not-accepted', message }] });
    }
    // Authority before anything else: a caller who may not invite learns nothing about the address.
    requireGrantAuthority(caller.role, [body.role]);
    const issued = issueInvitationToken(caller.tenantId);
    const expiresAt = new Date(Date.now() + INVITATION_LIFETIME_MS).toISOString();
    const email = normalizeEmail(body.email);
    const outcome = await this.execute(caller, {
      type: 'InviteMember',
      invitationId: issued.id,
      email,
      role: body.role,
      secretSha256: issued.secretSha256,
      expiresAt,
      grantedBy: caller.role,
      actorId: caller.actor.id,
    });
    if (outcome.replayed) throw await this.tokenAlreadyShown(outcome);
    void reply.status(201).header('cache-control', 'no-store');
    return { invitationId: issued.id, invitationToken: issued.token, email, role: body.role, expiresAt, ...commandResponse(outcome, reply) };
  }

  @Get('invitations')
  @Allow([...ADMINISTRATIVE_ROLES, 'AUDITOR'], MANAGE)
  @ApiOperation({ summary: "The workspace's invitations (never their tokens): pending, accepted, revoked, expired, or void (whoever invited can no longer grant the role)" })
  async invitations(@Caller() caller: RequestContext) {
    const workspace = await this.workspace(caller);
    const invitations = workspace.status === 'unregistered' ? {} : workspace.invitations;
    const now = Date.now();
    return {
      invitations: Object.entries(invitations).map(([invitationId, invitation]) => ({
        invitationId,
        email: invitation.email,
        role: invitation.role,
        status: invitationStatus(workspace as RegisteredWorkspace, invitation, now),
        expiresAt: invitation.expiresAt,
        invitedBy: invitation.invitedBy,
      })),
    };
  }

  @Post('invitations/:invitationId/revoke')
  @Allow(ADMINISTRATIVE_ROLES, MANAGE)
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a pending invitation: its token stops working' })
  async revokeInvitation(@Caller() caller: RequestContext, @Param() params: InvitationParams, @Body() body: RevokeInvitationDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const outcome = await this.execute(caller, { type: 'RevokeInvitation', invitationId: params.invitationId, reason: body.reason, grantedBy: caller.role, actorId: caller.actor.id });
    return commandResponse(outcome, reply);
  }

  @Put('members/:userId/role')
  @Allow(ADMINISTRATIVE_ROLES, MANAGE)
  @ApiOperation({ summary: "Change a member's role (recorded as workspaces.member-role-changed); effective on the member's next request" })
  async changeRole(@Caller() caller: RequestContext, @Param() params: MemberParams, @Body() body: ChangeRoleDto, @Res({ passthrough: true }) reply: FastifyReply) {
    requireGrantAuthority(caller.role, [body.role]);
    if (body.role === 'ADMIN') {
      const account = await this.infrastructure.identity.users.findById(params.userId);
      if (account) requireAdminAtHome(account.homeTenantId, caller.tenantId, account.email);
    }
    const outcome = await this.execute(caller, { type: 'ChangeMemberRole', userId: params.userId, role: body.role, grantedBy: caller.role, actorId: caller.actor.id });
    return commandResponse(outcome, reply);
  }

  @Delete('members/:userId')
  @Allow(ADMINISTRATIVE_ROLES, MANAGE)
  @ApiOperation({ summary: 'Remove a member: their tokens stop working on their next request, and the API keys they created are revoked' })
  async remove(@Caller() caller: RequestContext, @Param() params: MemberParams, @Res({ passthrough: true }) reply: FastifyReply) {
    const outcome = await this.execute(caller, { type: 'RemoveMember', userId: params.userId, grantedBy: caller.role, actorId: caller.actor.id });
    return commandResponse(outcome, reply);
  }

  @Post('members/:userId/password-reset')
  @Allow(ADMINISTRATIVE_ROLES, MANAGE)
  @HttpCode(201)
  @ApiOperation({ summary: 'Issue a one-time password-reset token (shown once, valid one hour) for a member whose account this workspace created. 3 per hour per account' })
  issuePasswordReset(@Caller() caller: RequestContext, @Param() params: MemberParams, @Client() client: ClientInfo) {
    return this.infrastructure.identity.passwordResets.issue(caller.tenantId, params.userId, caller.principal, client);
  }

  private async workspace(caller: RequestContext) {
    return (await this.infrastructure.states.loadCurrent(workspaceDecider, streamIdFor('workspace', caller.tenantId))).state;
  }

  /** A retried invitation cannot answer like the first: the token was shown once and is not kept. */
  private async tokenAlreadyShown(outcome: CommandOutcome): Promise<ProoflineError> {
    const recorded = await this.infrastructure.store.readStream(outcome.streamId, { fromVersion: outcome.events[0].streamVersion, maxCount: outcome.events.length });
    const invited = recorded.find((event) => event.envelope.type === 'workspaces.member-invited');
    const invitationId = String(invited?.envelope.data.invitationId);
    return new ProoflineError(
      'INVITATION.TOKEN_SHOWN_ONCE',
      `this request already created invitation ${invitationId}; its token was shown in that response only and is not stored. Use it, or invite again (which replaces it)`,
      409,
      { invitationId },
    );
  }

  private execute(caller: RequestContext, command: MembershipCommand): Promise<CommandOutcome> {
    return this.commandBus.execute(
      new ExecuteDomainCommand(workspaceDecider, { streamId: streamIdFor('workspace', caller.tenantId), command, context: commandContext(caller, caller.tenantId) }),
    );
  }
}
