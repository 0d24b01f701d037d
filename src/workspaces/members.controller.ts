import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { newEventId } from '../../contracts';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import { Allow } from '../auth/access-policy';
import type { Client as ClientInfo } from '../auth/sessions';
import { requireAcceptablePassword } from '../auth/sessions';
import { requireAdminAtHome } from '../auth/bootstrap';
import { hashPassword } from '../auth/passwords';
import { normalizeEmail } from '../auth/user-repository';
import type { CommandOutcome } from '../commands/command-pipeline';
import { ExecuteDomainCommand } from '../commands/execute-domain-command';
import { streamIdFor } from '../commands/stream-id';
import { DomainError, ProoflineError } from '../errors/proofline-error';
import { commandResponse } from '../http/command-response';
import { Caller, Client, commandContext, type RequestContext } from '../http/request-context';
import type { MembershipCommand } from './decide-members';
import { ADMINISTRATIVE_ROLES } from './events';
import { AddMemberDto, ChangeRoleDto, MemberParams } from './members.dto';
import { workspaceDecider } from './workspace.decider';

const MANAGE = { tenantParam: 'workspaceId' };

/** Who belongs to a workspace and with which role; every change is a signed workspace event. */
@ApiTags('members')
@ApiBearerAuth()
@Controller('workspaces/:workspaceId/members')
export class MembersController {
  constructor(
    private readonly commandBus: CommandBus,
    @Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure,
  ) {}

  @Get()
  @Allow([...ADMINISTRATIVE_ROLES, 'AUDITOR'], MANAGE)
  @ApiOperation({ summary: "The workspace's members and their roles" })
  async list(@Caller() caller: RequestContext) {
    const { state } = await this.infrastructure.states.loadCurrent(workspaceDecider, streamIdFor('workspace', caller.tenantId));
    const members = state.status === 'unregistered' ? {} : state.members;
    return { members: Object.entries(members).map(([userId, member]) => ({ userId, email: member.email, role: member.role })) };
  }

  @Post()
  @Allow(ADMINISTRATIVE_ROLES, MANAGE)
  @ApiOperation({ summary: 'Add a member with a role; an address without an account gets one, created with initialPassword' })
  async add(@Caller() caller: RequestContext, @Body() body: AddMemberDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const { users } = this.infrastructure.identity;
    const existing = await users.findByEmail(body.email);
    if (existing && body.role === 'ADMIN') requireAdminAtHome(existing.homeTenantId, caller.tenantId, existing.email);
    let userId = existing?.id;
    let created = false;
    if (!existing) {
      if (body.initialPassword === undefined) {
        throw new ProoflineError('REQUEST.INVALID', 'initialPassword is required: this address has no account yet', 400, {
          fields: [{ field: 'initialPassword', rule: 'required-for-new-account', message: 'initialPassword is required when the address has no account yet' }],
        });
      }
      requireAcceptablePassword(body.initialPassword, body.email, 'initialPassword');
      userId = newEventId();
      created = await users.insertPending({ id: userId, email: body.email, passwordHash: await hashPassword(body.initialPassword), homeTenantId: caller.tenantId }, new Date());
      if (!created) throw new ProoflineError('MEMBER.ACCOUNT_RACE', 'an account for this address was created at the same moment; repeat the request', 409, { field: 'email' });
    }
    try {
      const outcome = await this.execute(caller, { type: 'AddMember', userId: userId!, email: normalizeEmail(body.email), role: body.role, grantedBy: caller.role });
      if (created) await users.activate(userId!);
      void reply.status(201);
      return { userId, accountCreated: created, ...commandResponse(outcome, reply) };
    } catch (error) {
      // The account existed only for this membership: a refused membership leaves no account behind.
      if (created && error instanceof DomainError) await users.deletePending(userId!);
      throw error;
    }
  }

  @Put(':userId/role')
  @Allow(ADMINISTRATIVE_ROLES, MANAGE)
  @ApiOperation({ summary: "Change a member's role (recorded as workspaces.member-role-changed); effective at the member's next token refresh" })
  async changeRole(@Caller() caller: RequestContext, @Param() params: MemberParams, @Body() body: ChangeRoleDto, @Res({ passthrough: true }) reply: FastifyReply) {
    if (body.role === 'ADMIN') {
      const account = await this.infrastructure.identity.users.findById(params.userId);
      if (account) requireAdminAtHome(account.homeTenantId, caller.tenantId, account.email);
    }
    const outcome = await this.execute(caller, { type: 'ChangeMemberRole', userId: params.userId, role: body.role, grantedBy: caller.role });
    return commandResponse(outcome, reply);
  }

  @Delete(':userId')
  @Allow(ADMINISTRATIVE_ROLES, MANAGE)
  @ApiOperation({ summary: 'Remove a member; their session ends at its next refresh' })
  async remove(@Caller() caller: RequestContext, @Param() params: MemberParams, @Res({ passthrough: true }) reply: FastifyReply) {
    const outcome = await this.execute(caller, { type: 'RemoveMember', userId: params.userId, grantedBy: caller.role });
    return commandResponse(outcome, reply);
  }

  @Post(':userId/password-reset')
  @Allow(ADMINISTRATIVE_ROLES, MANAGE)
  @HttpCode(201)
  @ApiOperation({ summary: 'Issue a one-time password-reset token (shown once, valid one hour) for a member whose account this workspace created. 3 per hour per account' })
  issuePasswordReset(@Caller() caller: RequestContext, @Param() params: MemberParams, @Client() client: ClientInfo) {
    return this.infrastructure.identity.passwordResets.issue(caller.tenantId, params.userId, caller.principal, client);
  }

  private execute(caller: RequestContext, command: MembershipCommand): Promise<CommandOutcome> {
    return this.commandBus.execute(
      new ExecuteDomainCommand(workspaceDecider, { streamId: streamIdFor('workspace', caller.tenantId), command, context: commandContext(caller, caller.tenantId) }),
    );
  }
}
