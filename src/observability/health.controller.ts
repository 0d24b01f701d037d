import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { PublicRoute } from '../auth/access-policy';
import type { FastifyReply } from 'fastify';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';

@ApiTags('operations')
@PublicRoute()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness of every configured dependency; 503 when one is down' })
  async check(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      return await this.health.check([() => this.eventStore(), () => this.signingKey()]);
    } catch (error) {
      // Terminus reports a failed check as an exception; its body is the report monitors expect, so it is kept as is.
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503);
      return error.getResponse();
    }
  }

  private async eventStore() {
    const indicator = this.indicators.check('eventStore');
    const engine = this.infrastructure.database.kind;
    try {
      await this.infrastructure.store.ping();
      return indicator.up({ engine });
    } catch (error) {
      return indicator.down({ engine, message: error instanceof Error ? error.message : String(error) });
    }
  }

  private signingKey() {
    const indicator = this.indicators.check('signing');
    try {
      const key = this.infrastructure.keys.active();
      return indicator.up({ keyId: key.keyId, alg: key.alg });
    } catch (error) {
      return indicator.down({ message: error instanceof Error ? error.message : String(error) });
    }
  }
}
