import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsString, Length, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { PLAN_TIERS, type PlanTier } from './events';

const VISIBLE_TEXT = /^\S(.*\S)?$/;

/** A workspace name: 2–80 characters, no leading or trailing white space. */
const WorkspaceName = (example: string) =>
  applyDecorators(
    ApiProperty({ example, minLength: 2, maxLength: 80 }),
    IsString(),
    Length(2, 80),
    Matches(VISIBLE_TEXT, { message: 'name must not start or end with white space' }),
  );

export class RegisterWorkspaceDto {
  @WorkspaceName('Acme Energy')
  name!: string;

  @ApiProperty({ enum: PLAN_TIERS, default: 'FREE' })
  @IsIn(PLAN_TIERS)
  planTier: PlanTier = 'FREE';
}

export class RenameWorkspaceDto {
  @WorkspaceName('Acme Energy Ltd')
  name!: string;
}

export class ChangePlanDto {
  @ApiProperty({ enum: PLAN_TIERS })
  @IsIn(PLAN_TIERS)
  planTier!: PlanTier;
}

export class CloseWorkspaceDto {
  @ApiProperty({ example: 'customer left', minLength: 3, maxLength: 500 })
  @IsString()
  @Length(3, 500)
  reason!: string;
}

export class StreamPageQuery {
  @ApiProperty({ required: false, default: 0, minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  fromVersion = 0;

  @ApiProperty({ required: false, default: 100, minimum: 1, maximum: 1000 })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit = 100;
}

export class ApprovalPolicyDto {
  @ApiProperty({ description: 'one person may not decide two stages of the same approval', default: true })
  @IsBoolean()
  segregationOfDuties!: boolean;

  @ApiProperty({ minLength: 3, maxLength: 2000, description: 'why the policy changes; recorded in the event' })
  @IsString()
  @MinLength(3)
  @MaxLength(2000)
  reason!: string;
}
