import { Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import { ProoflineError, rejected } from '../errors/proofline-error';
import { Allow } from '../auth/access-policy';
import type { Role } from '../workspaces/events';
import { Caller, requireTenant, type RequestContext } from '../http/request-context';
import { CheckpointsQuery, ConsistencyQuery, InclusionQuery, ReceiptParams, ReceiptQuery, ReceiptsQuery, TenantParams } from './ledger.dto';

const READ_LEDGER: readonly Role[] = ['ADMIN', 'CUSTOMER_ADMIN', 'FINANCE', 'AUDITOR'];
const VERIFY_LEDGER: readonly Role[] = ['AUDITOR', 'ADMIN'];
const TENANT = { tenantParam: 'tenantId' };
const tenantNotFound = () => rejected.notFound('LEDGER.TENANT_NOT_FOUND', 'no ledger for this tenant');

@ApiTags('ledger')
@ApiBearerAuth()
@Allow(READ_LEDGER, TENANT)
@Controller('ledger/:tenantId')
export class LedgerController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure) {}

  @Get('checkpoint')
  @ApiOperation({ summary: "The tenant's latest signed checkpoint (tree size, root hash, time, signature)" })
  checkpoint(@Caller() caller: RequestContext, @Param() params: TenantParams) {
    return this.infrastructure.ledger.checkpoint(requireTenant(caller, params.tenantId, tenantNotFound));
  }

  @Get('checkpoints')
  @ApiOperation({ summary: "Every signed head of the tenant's log, smallest first (1,000 per page after ?after=size): what auditors archive" })
  checkpoints(@Caller() caller: RequestContext, @Param() params: TenantParams, @Query() query: CheckpointsQuery) {
    return this.infrastructure.ledger.checkpoints(requireTenant(caller, params.tenantId, tenantNotFound), query.after ?? 0);
  }

  @Get('status')
  @ApiOperation({ summary: "Receipts, the latest checkpoint, and whether this tenant's receipts run, halted at a bad event, or its signing is refused (fork)" })
  status(@Caller() caller: RequestContext, @Param() params: TenantParams) {
    const tenantId = requireTenant(caller, params.tenantId, tenantNotFound);
    // A halt or a refused fork concerns this tenant and is shown; a failed shared round only as 'stalled' (its reason may name another tenant's event).
    return this.infrastructure.ledger.status(tenantId, this.infrastructure.ledgerRunner.lastError);
  }

  @Get('receipts')
  @ApiOperation({ summary: "Where receipts are: of one event (?eventId=) or of every event of an approval (?approvalId=), in ledger order, each with its document's path" })
  findReceipts(@Caller() caller: RequestContext, @Param() params: TenantParams, @Query() query: ReceiptsQuery) {
    const tenantId = requireTenant(caller, params.tenantId, tenantNotFound);
    if ((query.eventId === undefined) === (query.approvalId === undefined)) {
      throw new ProoflineError('REQUEST.INVALID', 'give exactly one of eventId and approvalId', 400, {
        fields: [{ field: query.eventId === undefined ? 'eventId' : 'approvalId', rule: 'exactly-one-of', message: 'give exactly one of eventId and approvalId' }],
      });
    }
    return this.infrastructure.ledger.findReceipts(tenantId, query);
  }

  @Get('receipts/:seq')
  @ApiOperation({ summary: 'A standalone proof: receipt, event, inclusion proof to the latest checkpoint, the checkpoint and the keys' })
  receipt(@Caller() caller: RequestContext, @Param() params: ReceiptParams, @Query() query: ReceiptQuery) {
    return this.infrastructure.ledger.receiptDocument(requireTenant(caller, params.tenantId, tenantNotFound), params.seq, query.since);
  }

  @Get('receipts/:seq/proof')
  @ApiOperation({ summary: 'RFC 6962 inclusion proof of a receipt in the tree of size treeSize' })
  proof(@Caller() caller: RequestContext, @Param() params: ReceiptParams, @Query() query: InclusionQuery) {
    return this.infrastructure.ledger.inclusion(requireTenant(caller, params.tenantId, tenantNotFound), params.seq, query.treeSize);
  }

  @Get('consistency')
  @ApiOperation({ summary: 'RFC 6962 consistency proof: the tree of size from is a prefix of the tree of size to, with the signed heads of both sizes (null where none was issued)' })
  consistency(@Caller() caller: RequestContext, @Param() params: TenantParams, @Query() query: ConsistencyQuery) {
    return this.infrastructure.ledger.consistency(requireTenant(caller, params.tenantId, tenantNotFound), query.from, query.to);
  }

  @Post('verify')
  @Allow(VERIFY_LEDGER, TENANT)
  @HttpCode(200)
  @ApiOperation({ summary: 'Replay the chain against the store (AUDITOR or ADMIN): OK with counts, or the first bad position and its kind' })
  verify(@Caller() caller: RequestContext, @Param() params: TenantParams) {
    return this.infrastructure.ledger.verify(requireTenant(caller, params.tenantId, tenantNotFound));
  }
}
