import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';

export class TenantParams {
  @ApiProperty()
  @IsString()
  @Length(1, 128)
  tenantId!: string;
}

export class ReceiptParams extends TenantParams {
  @ApiProperty({ minimum: 0, description: 'the receipt sequence (0-based), also its Merkle leaf index' })
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  seq!: number;
}

export class InclusionQuery {
  @ApiPropertyOptional({ minimum: 1, description: 'the tree size to prove inclusion in; default: the latest checkpoint' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  treeSize?: number;
}

export class ReceiptQuery {
  @ApiPropertyOptional({ minimum: 1, description: 'the size of a checkpoint you kept: the document then carries the consistency proof from it to its checkpoint' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  since?: number;
}

export class CheckpointsQuery {
  @ApiPropertyOptional({ minimum: 0, description: 'only heads larger than this size (paging)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  after?: number;
}

export class ConsistencyQuery {
  /** RFC 9162 defines consistency from a non-empty tree only: every tree extends the empty one. */
  @ApiProperty({ minimum: 1 })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  from!: number;

  @ApiProperty({ minimum: 1 })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  to!: number;
}

/** Exactly one of the two (checked by the controller: class-validator has no "one of"). */
export class ReceiptsQuery {
  @ApiPropertyOptional({ format: 'uuid', description: "the receipt of this event (for example an approval's approvals.completed)" })
  @IsOptional()
  @IsUUID()
  eventId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: "the receipts of every event of this approval (its value definition's stream), in ledger order" })
  @IsOptional()
  @IsUUID()
  approvalId?: string;
}
