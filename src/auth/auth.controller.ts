import { Body, Controller, Get, HttpCode, Inject, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import { Caller, Client, type RequestContext } from '../http/request-context';
import { Allow, ANY_ROLE, PublicRoute } from './access-policy';
import { AcceptInvitationDto, LoginDto, PasswordResetDto, RefreshDto, RegisterDto } from './auth.dto';
import type { Client as ClientInfo } from './sessions';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure) {}

  @Post('register')
  @PublicRoute()
  @ApiOperation({ summary: 'Create an account and its own workspace (you become its CUSTOMER_ADMIN); returns tokens. 5 per hour per IP' })
  register(@Body() body: RegisterDto, @Client() client: ClientInfo, @Res({ passthrough: true }) reply: FastifyReply) {
    void reply.status(201).header('cache-control', 'no-store');
    return this.infrastructure.identity.sessions.register(body, client);
  }

  @Post('login')
  @PublicRoute()
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in: {accessToken, refreshToken}. 10 per 15 minutes per IP and per account' })
  login(@Body() body: LoginDto, @Client() client: ClientInfo, @Res({ passthrough: true }) reply: FastifyReply) {
    void reply.header('cache-control', 'no-store');
    return this.infrastructure.identity.sessions.login(body, client);
  }

  @Post('refresh')
  @PublicRoute()
  @HttpCode(200)
  @ApiOperation({ summary: 'Trade a refresh token for new tokens; a refresh token used twice revokes its whole session' })
  refresh(@Body() body: RefreshDto, @Client() client: ClientInfo, @Res({ passthrough: true }) reply: FastifyReply) {
    void reply.header('cache-control', 'no-store');
    return this.infrastructure.identity.sessions.refresh(body.refreshToken, client);
  }

  @Post('logout')
  @Allow(ANY_ROLE)
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiOperation({ summary: "End the caller's session: its access and refresh tokens stop working at once" })
  async logout(@Caller() caller: RequestContext): Promise<void> {
    await this.infrastructure.identity.sessions.logout(caller.principal);
  }

  @Post('password-reset')
  @PublicRoute()
  @HttpCode(204)
  @ApiOperation({ summary: 'Set a new password with a one-time reset token an administrator issued. 3 per hour per IP' })
  async resetPassword(@Body() body: PasswordResetDto, @Client() client: ClientInfo): Promise<void> {
    await this.infrastructure.identity.passwordResets.redeem(body, client);
  }

  @Post('invitations/accept')
  @PublicRoute()
  @HttpCode(200)
  @ApiOperation({
    summary:
      "Join a workspace with an invitation token: with the password of the address's account, or the password of a new account. Returns tokens for that workspace. 10 per hour per IP",
  })
  acceptInvitation(@Body() body: AcceptInvitationDto, @Client() client: ClientInfo, @Res({ passthrough: true }) reply: FastifyReply) {
    void reply.header('cache-control', 'no-store');
    return this.infrastructure.identity.invitations.accept(body, client);
  }

  @Get('me')
  @Allow(ANY_ROLE)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Who the credential is: user or API key, tenant and roles' })
  me(@Caller() caller: RequestContext) {
    const { principal } = caller;
    return { tenantId: principal.tenantId, actorId: principal.actor.id, roles: principal.roles, via: principal.via };
  }
}
