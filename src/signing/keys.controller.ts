import { Controller, Get, Inject } from '@nestjs/common';
import { PublicRoute } from '../auth/access-policy';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';

@ApiTags('keys')
@PublicRoute()
@Controller('.well-known/proofline')
export class KeysController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure) {}

  @Get('keys')
  @ApiOperation({ summary: 'Every signing key, active and retired: public key (SPKI PEM) and self-signed X.509 certificate' })
  keys() {
    return { keys: this.infrastructure.keys.published() };
  }
}
