import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Length, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { CURRENCIES, DEFINITION_FIELDS, STAGES, type Currency, type DefinitionField, type Stage } from './events';

const VISIBLE_TEXT = /^\S(.*\S)?$/s;

export class ValueDefinitionDto {
  @ApiProperty({ example: 'Energy saved', minLength: 2, maxLength: 120 })
  @IsString()
  @Length(2, 120)
  @Matches(VISIBLE_TEXT, { message: 'name must not start or end with white space' })
  name!: string;

  @ApiProperty({ example: 'kWh', minLength: 1, maxLength: 32 })
  @IsString()
  @Length(1, 32)
  unit!: string;

  @ApiProperty({ example: 'baseline kWh − metered kWh, per month', minLength: 3, maxLength: 2000 })
  @IsString()
  @Length(3, 2000)
  formula!: string;

  @ApiProperty({ example: 1250, description: 'price per unit in minor units (cents), an integer', minimum: 0 })
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  unitPriceMinor!: number;

  @ApiProperty({ enum: CURRENCIES })
  @IsIn(CURRENCIES)
  currency!: Currency;

  @ApiProperty({ example: 120000, description: 'the starting point in the unit, an integer', minimum: 0 })
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  baseline!: number;
}

export class EditValueDefinitionDto extends PartialType(ValueDefinitionDto) {}

export class ApproveStageDto {
  @ApiPropertyOptional({ maxLength: 2000 })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  comment?: string;
}

export class ReasonDto {
  @ApiProperty({ minLength: 3, maxLength: 2000, description: 'required: why' })
  @IsString()
  @MinLength(3)
  @MaxLength(2000)
  reason!: string;
}

export class StageParams {
  @ApiProperty() @Matches(/^[0-9a-f-]{36}$/, { message: 'approvalId must be a UUID' }) approvalId!: string;
  @ApiProperty({ enum: STAGES }) @IsIn(STAGES) stage!: Stage;
}

export class DefinitionParams {
  @ApiProperty() @Matches(/^[0-9a-f-]{36}$/, { message: 'definitionId must be a UUID' }) definitionId!: string;
}

export class ApprovalParams {
  @ApiProperty() @Matches(/^[0-9a-f-]{36}$/, { message: 'approvalId must be a UUID' }) approvalId!: string;
}

/** A calendar date, or a date-time that says its offset: one without would be read in the server's zone. */
const AS_OF_FORMS = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

export class DefinitionChangesQuery {
  @ApiPropertyOptional({ enum: DEFINITION_FIELDS, description: 'Only the changes to this field (e.g. unitPriceMinor)' })
  @IsOptional()
  @IsIn(DEFINITION_FIELDS, { message: `field must be one of ${DEFINITION_FIELDS.join(', ')}` })
  field?: DefinitionField;
}

export class AsOfQuery {
  @ApiPropertyOptional({
    description: "A date-time with an offset or Z: the approval as it stood at that instant. A date (YYYY-MM-DD): as it stood at the end of that day in the tenant's billing time zone",
    example: '2026-11-21T12:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'asOf must be an ISO-8601 date or date-time, e.g. 2026-11-21 or 2026-11-21T12:00:00Z' })
  @Matches(AS_OF_FORMS, { message: "asOf must be a date (2026-11-21: the end of that day in the tenant's billing time zone) or a date-time with an offset or Z (2026-11-21T12:00:00Z); a date-time without one names no instant" })
  asOf?: string;
}

const SORTS = ['updated_at', '-updated_at', 'submitted_at', '-submitted_at', 'name', '-name', 'status', '-status'] as const;
/** Approvals begin at submission: a definition never submitted has none, so `draft` is no approval status. */
const STATUSES = ['in-review', 'changes-requested', 'approved', 'rejected'] as const;

export class ApprovalFilterQuery {
  @ApiPropertyOptional({ enum: STATUSES }) @IsOptional() @IsIn(STATUSES) status?: (typeof STATUSES)[number];
  @ApiPropertyOptional({ enum: STAGES }) @IsOptional() @IsIn(STAGES) stage?: Stage;
  @ApiPropertyOptional({ description: 'user id of someone who decided a stage' }) @IsOptional() @IsString() @Length(1, 128) approver?: string;
  @ApiPropertyOptional() @IsOptional() @Matches(/^[0-9a-f-]{36}$/, { message: 'definition must be a UUID' }) definition?: string;
  @ApiPropertyOptional({ description: 'ISO-8601: updated (list) or decided (history) at or after' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'from must be an ISO-8601 date-time' })
  from?: string;
  @ApiPropertyOptional({ description: 'ISO-8601: before' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'to must be an ISO-8601 date-time' })
  to?: string;
}

export class ApprovalListQuery extends ApprovalFilterQuery {
  @ApiPropertyOptional({ default: 1, minimum: 1 }) @Type(() => Number) @IsInt() @Min(1) @Max(1_000_000) page = 1;
  @ApiPropertyOptional({ default: 50, minimum: 1, maximum: 500 }) @Type(() => Number) @IsInt() @Min(1) @Max(500) pageSize = 50;
  @ApiPropertyOptional({ enum: SORTS, default: '-updated_at' }) @IsIn(SORTS) sort: (typeof SORTS)[number] = '-updated_at';
}
