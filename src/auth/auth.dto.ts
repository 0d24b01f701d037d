import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsIn, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { PLAN_TIERS, type PlanTier } from '../workspaces/events';

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9_:@-]{0,127}$/;

export class RegisterDto {
  @ApiProperty({ example: 'ada@example.com', maxLength: 254 })
  @IsEmail({}, { message: 'email must be an e-mail address' })
  @MaxLength(254)
  email!: string;

  @ApiProperty({ example: 'correct horse battery staple', minLength: 12, maxLength: 128, description: '12–128 characters, not a well-known password, at least 5 different characters, not containing the e-mail name' })
  @IsString()
  @MaxLength(1024)
  password!: string;

  @ApiProperty({ example: 'Acme Energy', minLength: 2, maxLength: 80 })
  @IsString()
  @Length(2, 80)
  @Matches(/^\S(.*\S)?$/, { message: 'workspaceName must not start or end with white space' })
  workspaceName!: string;

  @ApiPropertyOptional({ enum: PLAN_TIERS, default: 'FREE' })
  @IsIn(PLAN_TIERS)
  planTier: PlanTier = 'FREE';
}

export class LoginDto {
  @ApiProperty({ example: 'demo-admin@proofline.local' })
  @IsString()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ example: 'proofline-demo-password' })
  @IsString()
  @MaxLength(1024)
  password!: string;

  @ApiPropertyOptional({ description: 'the workspace to sign in to; default: the one the account was created in' })
  @IsOptional()
  @Matches(TENANT_ID, { message: 'tenantId must be letters, digits and _:@- (at most 128)' })
  tenantId?: string;
}

export class RefreshDto {
  @ApiProperty()
  @IsString()
  @MaxLength(4096)
  refreshToken!: string;
}

export class PasswordResetDto {
  @ApiProperty({ description: 'the one-time token an administrator issued' })
  @IsString()
  @MaxLength(256)
  resetToken!: string;

  @ApiProperty({ minLength: 12, maxLength: 128 })
  @IsString()
  @MaxLength(1024)
  newPassword!: string;
}

export class AcceptInvitationDto {
  @ApiProperty({ description: 'the invitation token an administrator handed over (pli.…)' })
  @IsString()
  @MaxLength(512)
  invitationToken!: string;

  @ApiProperty({ minLength: 12, maxLength: 128, description: "the password of the account the invitation's address already has, or the new account's password" })
  @IsString()
  @MaxLength(1024)
  password!: string;
}
