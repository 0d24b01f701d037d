import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsEmail, IsIn, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { ROLES, type Role } from './events';

export class AddMemberDto {
  @ApiProperty({ example: 'grace@example.com' })
  @IsEmail({}, { message: 'email must be an e-mail address' })
  @MaxLength(254)
  email!: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role!: Role;

  @ApiPropertyOptional({ description: 'no longer accepted (400): members join by invitation, and the invitee sets or proves the password when accepting' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  initialPassword?: string;
}

export class ChangeRoleDto {
  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role!: Role;
}

export class CreateApiKeyDto {
  @ApiProperty({ example: 'billing-ingest', minLength: 2, maxLength: 80 })
  @IsString()
  @Length(2, 80)
  @Matches(/^\S(.*\S)?$/, { message: 'name must not start or end with white space' })
  name!: string;

  @ApiProperty({ enum: ROLES, isArray: true, example: ['TECHNICAL'] })
  @ArrayMinSize(1)
  @ArrayMaxSize(ROLES.length)
  @ArrayUnique()
  @IsIn(ROLES, { each: true })
  roles!: Role[];
}

export class RevokeApiKeyDto {
  @ApiProperty({ example: 'rotated', minLength: 3, maxLength: 500 })
  @IsString()
  @Length(3, 500)
  reason!: string;
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class MemberParams {
  @ApiProperty() @IsString() @Length(1, 128) workspaceId!: string;
  @ApiProperty() @Matches(ID, { message: 'userId must be a UUID' }) userId!: string;
}

export class InvitationParams {
  @ApiProperty() @IsString() @Length(1, 128) workspaceId!: string;
  @ApiProperty() @Matches(ID, { message: 'invitationId must be a UUID' }) invitationId!: string;
}

export class RevokeInvitationDto {
  @ApiProperty({ example: 'sent to the wrong address', minLength: 3, maxLength: 500 })
  @IsString()
  @Length(3, 500)
  reason!: string;
}

export class ApiKeyParams {
  @ApiProperty() @IsString() @Length(1, 128) workspaceId!: string;
  @ApiProperty() @Matches(ID, { message: 'keyId must be a UUID' }) keyId!: string;
}
