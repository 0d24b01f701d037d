import { Body, Controller, Get, HttpCode, Inject, Param, Post, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import { Allow } from '../auth/access-policy';
import { issueApiKey } from '../auth/api-keys';
import type { CommandOutcome } from '../commands/command-pipeline';
import { ExecuteDomainCommand } from '../commands/execute-domain-command';
import { streamIdFor } from '../commands/stream-id';
import { ProoflineError } from '../errors/proofline-error';
import { commandResponse } from '../http/command-response';
import { Caller, commandContext, type RequestContext } from '../http/request-context';
import type { MembershipCommand } from './decide-members';
import { ADMINISTRATIVE_ROLES } from './events';
import { ApiKeyParams, CreateApiKeyDto, RevokeApiKeyDto } from './members.dto';
import { workspaceDecider } from './workspace.decider';

const MANAGE = { tenantParam: 'workspaceId' };

/** Credentials for machines: one tenant, a set of roles, the secret shown once and stored as a hash. */
@ApiTags('api-keys')
@ApiBearerAuth()
@Controller('workspaces/:workspaceId/api-keys')
export class ApiKeysController {
  constructor(
    private readonly commandBus: CommandBus,
    @Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure,
  ) {}

  @Get()
  @Allow([...ADMINISTRATIVE_ROLES, 'AUDITOR'], MANAGE)
  @ApiOperation({ summary: "The workspace's API keys (never their secrets), with when each was last used" })
  async list(@Caller() caller: RequestContext) {
    const [{ state }, lastUse] = await Promise.all([
      this.infrastructure.states.loadCurrent(workspaceDecider, streamIdFor('workspace', caller.tenantId)),
      this.infrastructure.identity.users.apiKeyLastUse(caller.tenantId),
    ]);
    const keys = state.status === 'unregistered' ? {} : state.apiKeys;
    return {
      apiKeys: Object.entries(keys).map(([keyId, key]) => ({ keyId, name: key.name, roles: key.roles, revoked: key.revoked, lastUsedAt: lastUse.get(keyId)?.toISOString() ?? null })),
    };
  }

  @Post()
  @Allow(ADMINISTRATIVE_ROLES, MANAGE)
  @ApiOperation({ summary: 'Create an API key; the response is the only time its secret is shown' })
  async create(@Caller() caller: RequestContext, @Body() body: CreateApiKeyDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const issued = issueApiKey(caller.tenantId);
    const outcome = await this.execute(caller, { type: 'CreateApiKey', keyId: issued.id, name: body.name, roles: body.roles, secretSha256: issued.secretSha256, grantedBy: caller.role, actorId: caller.actor.id });
    if (outcome.replayed) throw await this.secretAlreadyShown(outcome);
    void reply.status(201).header('cache-control', 'no-store');
    return { keyId: issued.id, apiKey: issued.token, name: body.name, roles: body.roles, ...commandResponse(outcome, reply) };
  }

  @Post(':keyId/revoke')
  @Allow(ADMINISTRATIVE_ROLES, MANAGE)
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an API key: the next request with it is refused' })
  async revoke(@Caller() caller: RequestContext, @Param() params: ApiKeyParams, @Body() body: RevokeApiKeyDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const outcome = await this.execute(caller, { type: 'RevokeApiKey', keyId: params.keyId, reason: body.reason, grantedBy: caller.role, actorId: caller.actor.id });
    return commandResponse(outcome, reply);
  }

  /**
   * A retried creation cannot answer like the first: the secret was shown once and is not kept.
   * It names the key that was created, so the client can use it if it kept it, or revoke it.
   */
  private async secretAlreadyShown(outcome: CommandOutcome): Promise<ProoflineError> {
    const [created] = await this.infrastructure.store.readStream(outcome.streamId, { fromVersion: outcome.events[0].streamVersion, maxCount: 1 });
    const keyId = String(created.envelope.data.keyId);
    return new ProoflineError(
      'API_KEY.SECRET_SHOWN_ONCE',
      `this request already created API key ${keyId}; its secret was shown in that response only and is not stored. Use it, or revoke the key and create another`,
      409,
      { keyId },
    );
  }

  private execute(caller: RequestContext, command: MembershipCommand): Promise<CommandOutcome> {
    return this.commandBus.execute(
      new ExecuteDomainCommand(workspaceDecider, { streamId: streamIdFor('workspace', caller.tenantId), command, context: commandContext(caller, caller.tenantId) }),
    );
  }
}
