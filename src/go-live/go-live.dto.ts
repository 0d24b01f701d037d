import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsObject, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { CALCULATION_STATUSES } from '../value-calculations/calculation-list';
import { IsInstantWithOffset } from '../http/instant';
import type { JsonObject } from '../../contracts';
import { SETUP_STEPS, type SetupStep } from '../setup/events';
import { ALERT_SEVERITIES, type AlertSeverity } from './events';

export class SetupStepParams {
  @ApiProperty({ enum: SETUP_STEPS }) @IsIn(SETUP_STEPS) step!: SetupStep;
}

export class SetupStepDto {
  @ApiProperty({ description: "the step's configuration; its checks are recorded with it", example: { endpointUrl: 'https://api.example.com', authType: 'api-key' } })
  @IsObject()
  configuration!: JsonObject;
}

export class ValueCalculationDto {
  @ApiProperty({ example: '2026-10-01T00:00:00Z', description: 'start of the period (inclusive): an RFC 3339 date-time with Z or an offset, 00:00 in the billing time zone' })
  @IsInstantWithOffset()
  periodStart!: string;
  @ApiProperty({ example: '2026-11-01T00:00:00Z', description: 'end of the period (exclusive), at most now' }) @IsInstantWithOffset() periodEnd!: string;
  @ApiProperty({ example: 5400, description: 'measured quantity in the definition unit, an integer' }) @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER) quantity!: number;
  @ApiProperty({ example: 6750000, description: 'quantity × unit price, in minor units' }) @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER) amountMinor!: number;
  @ApiProperty({ example: 200, description: 'measurement samples checked for this period (the accuracy is matchedSamples / sampleSize)' })
  @IsInt()
  @Min(1)
  @Max(1_000_000_000)
  sampleSize!: number;
  @ApiProperty({ example: 187, description: 'samples whose measured value matched the reference, at most sampleSize' }) @IsInt() @Min(0) @Max(1_000_000_000) matchedSamples!: number;
  @ApiProperty({ example: 'smart-meter export', minLength: 1, maxLength: 200 }) @IsString() @Length(1, 200) source!: string;
}

export class AdjustValueCalculationDto extends ValueCalculationDto {
  @ApiProperty({ example: 'meter 7 double-counted', minLength: 3, maxLength: 500 }) @IsString() @Length(3, 500) reason!: string;
}

export class VoidValueCalculationDto {
  @ApiProperty({ example: 'recorded against the wrong definition', minLength: 3, maxLength: 500 }) @IsString() @Length(3, 500) reason!: string;
}

export class CalculationParams {
  @ApiProperty() @Matches(/^[0-9a-f-]{36}$/, { message: 'definitionId must be a UUID' }) definitionId!: string;
  @ApiProperty() @Matches(/^[0-9a-f-]{36}$/, { message: 'calculationId must be a UUID' }) calculationId!: string;
}

export class BillingTimeZoneDto {
  @ApiProperty({ example: 'Europe/Berlin', description: 'an IANA time zone name' }) @IsString() @Length(1, 64) timeZone!: string;
}

export class AlertDto {
  @ApiProperty({ enum: ALERT_SEVERITIES }) @IsIn(ALERT_SEVERITIES) severity!: AlertSeverity;
  @ApiProperty({ minLength: 3, maxLength: 500 }) @IsString() @Length(3, 500) message!: string;
}

export class ResolveAlertDto {
  @ApiProperty({ minLength: 3, maxLength: 500 }) @IsString() @Length(3, 500) resolution!: string;
}

export class AlertParams {
  @ApiProperty() @Matches(/^[0-9a-f-]{36}$/, { message: 'alertId must be a UUID' }) alertId!: string;
}

export class ValueCalculationListQuery {
  @ApiPropertyOptional({ default: 50, minimum: 1, maximum: 200 }) @Type(() => Number) @IsInt() @Min(1) @Max(200) limit = 50;
  @ApiPropertyOptional({ description: 'nextCursor of the previous page (bound to the same filters)' }) @IsOptional() @IsString() @Length(1, 512) cursor?: string;
  @ApiPropertyOptional() @IsOptional() @Matches(/^[0-9a-f-]{36}$/, { message: 'definitionId must be a UUID' }) definitionId?: string;
  @ApiPropertyOptional({ example: 'EUR' }) @IsOptional() @Matches(/^[A-Z]{3}$/, { message: 'currency must be an ISO 4217 code such as EUR' }) currency?: string;
  @ApiPropertyOptional({ description: `comma-separated: ${CALCULATION_STATUSES.join(', ')} (default: all)` })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.split(',') : value))
  @IsIn(CALCULATION_STATUSES, { each: true, message: `status must be a comma-separated list of ${CALCULATION_STATUSES.join(', ')}` })
  status?: Array<(typeof CALCULATION_STATUSES)[number]>;
  @ApiPropertyOptional({ description: 'period end at or after (inclusive)' }) @IsOptional() @IsInstantWithOffset() periodEndFrom?: string;
  @ApiPropertyOptional({ description: 'period end before (exclusive)' }) @IsOptional() @IsInstantWithOffset() periodEndTo?: string;
}
