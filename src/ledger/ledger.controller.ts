import { Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import { ProoflineError, rejected } from '../errors/proofline-error';
import { Caller, requireTenant, type RequestContext } from '../http/request-context';
import { ConsistencyQuery, InclusionQuery, ReceiptParams, TenantParams } from './ledger.dto';

const VERIFY_ROLES = ['AUDITOR', 'ADMIN'];
const tenantNotFound = () => rejected.notFound('LEDGER.TENANT_NOT_FOUND', 'no ledger for this tenant');

@ApiTags('ledger')
@Controller('ledger/:tenantId')
export class LedgerController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure) {}

  @Get('checkpoint')
  @ApiOperation({ summary: "The tenant's latest signed checkpoint (tree size, root hash, time, signature)" })
  checkpoint(@Caller() caller: RequestContext, @Param() params: TenantParams) {
    return this.infrastructure.ledger.checkpoint(requireTenant(caller, params.tenantId, tenantNotFound));
  }

  @Get('status')
  @ApiOperation({ summary: "Receipts, the latest checkpoint and the receipt builder's last error" })
  async status(@Caller() caller: RequestContext, @Param() params: TenantParams) {
    const tenantId = requireTenant(caller, params.tenantId, tenantNotFound);
    const { repository } = this.infrastructure.ledger;
    const [receipts, checkpoint] = await Promise.all([repository.size(tenantId), repository.latestCheckpoint(tenantId)]);
    // The builder is shared by all tenants: say whether it is stalled, never why (the reason may name another tenant's event).
    return { tenantId, receipts, latestCheckpoint: checkpoint ?? null, builder: this.infrastructure.ledgerRunner.lastError ? 'stalled' : 'running' };
  }

  @Get('receipts/:seq')
  @ApiOperation({ summary: 'A standalone proof: receipt, event, inclusion proof to the latest checkpoint, the checkpoint and the keys' })
  receipt(@Caller() caller: RequestContext, @Param() params: ReceiptParams) {
    return this.infrastructure.ledger.receiptDocument(requireTenant(caller, params.tenantId, tenantNotFound), params.seq);
  }

  @Get('receipts/:seq/proof')
  @ApiOperation({ summary: 'RFC 6962 inclusion proof of a receipt in the tree of size treeSize' })
  proof(@Caller() caller: RequestContext, @Param() params: ReceiptParams, @Query() query: InclusionQuery) {
    return this.infrastructure.ledger.inclusion(requireTenant(caller, params.tenantId, tenantNotFound), params.seq, query.treeSize);
  }

  @Get('consistency')
  @ApiOperation({ summary: 'RFC 6962 consistency proof: the tree of size from is a prefix of the tree of size to' })
  consistency(@Caller() caller: RequestContext, @Param() params: TenantParams, @Query() query: ConsistencyQuery) {
    return this.infrastructure.ledger.consistency(requireTenant(caller, params.tenantId, tenantNotFound), query.from, query.to);
  }

  @Post('verify')
  @HttpCode(200)
  @ApiOperation({ summary: 'Replay the chain against the store (AUDITOR or ADMIN): OK with counts, or the first bad position and its kind' })
  verify(@Caller() caller: RequestContext, @Param() params: TenantParams) {
    const tenantId = requireTenant(caller, params.tenantId, tenantNotFound);
    if (!VERIFY_ROLES.includes(caller.actor.role)) {
      throw new ProoflineError('AUTH.ROLE_REQUIRED', `verifying the ledger needs one of the roles ${VERIFY_ROLES.join(', ')}`, 403, { required: VERIFY_ROLES, role: caller.actor.role });
    }
    return this.infrastructure.ledger.verify(tenantId);
  }
}
