import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsInt, IsISO8601, IsNumber, IsObject, IsString, Length, Matches, Max, Min } from 'class-validator';
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
  @ApiProperty({ example: '2026-10-01T00:00:00Z' }) @IsISO8601({ strict: true }, { message: 'periodStart must be an ISO-8601 date-time' }) periodStart!: string;
  @ApiProperty({ example: '2026-11-01T00:00:00Z' }) @IsISO8601({ strict: true }, { message: 'periodEnd must be an ISO-8601 date-time' }) periodEnd!: string;
  @ApiProperty({ example: 5400, description: 'measured quantity in the definition unit, an integer' }) @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER) quantity!: number;
  @ApiProperty({ example: 6750000, description: 'quantity × unit price, in minor units' }) @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER) amountMinor!: number;
  @ApiProperty({ example: 92.5, description: 'measurement accuracy in %, 0–100, at most two decimals' })
  @IsNumber({ maxDecimalPlaces: 2 }, { message: 'accuracyPercent must be a number with at most two decimals' })
  @Min(0)
  @Max(100)
  accuracyPercent!: number;
  @ApiProperty({ example: 'smart-meter export', minLength: 1, maxLength: 200 }) @IsString() @Length(1, 200) source!: string;
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
