import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { newEventId } from '../../contracts';
import { unauthenticated } from './unauthenticated';
import { ROLES, type Role } from '../workspaces/events';

const ISSUER = 'proofline';
const AUDIENCE = 'proofline-api';
const ALGORITHM = 'HS256';
/** RFC 9068's media type for access tokens; refresh tokens get their own, so neither passes for the other. */
const ACCESS_TYPE = 'at+jwt';
const REFRESH_TYPE = 'refresh+jwt';

export interface AccessClaims {
  readonly userId: string;
  readonly tenantId: string;
  readonly role: Role;
  /** The refresh-token family (sign-in session) the token belongs to; revoking the family ends it. */
  readonly familyId: string;
  readonly tokenId: string;
  /** When the token was issued (epoch seconds). */
  readonly issuedAt: number;
}

export interface RefreshClaims {
  readonly userId: string;
  readonly tenantId: string;
  readonly familyId: string;
  readonly tokenId: string;
  /** When the user signed in with a password (epoch seconds); carried across rotations. */
  readonly authTime: number;
  /** The account's password-change time (epoch ms) when the session began: another value means the password changed since. */
  readonly passwordVersion: number;
  readonly expiresAt: number;
}

export interface TokenLifetimes {
  readonly accessSeconds: number;
  readonly refreshSeconds: number;
}

/**
 * JWTs signed with HMAC-SHA-256 under one secret. Verification pins the algorithm, issuer,
 * audience and `typ`, so `alg: none`, another algorithm, a foreign token or a refresh token
 * presented as an access token are all refused.
 */
export class TokenIssuer {
  constructor(
    private readonly secret: Uint8Array,
    readonly lifetimes: TokenLifetimes,
  ) {}

  async issueAccess(claims: Omit<AccessClaims, 'tokenId' | 'issuedAt'>, now: Date): Promise<{ token: string; expiresAt: Date }> {
    const issuedAt = Math.floor(now.getTime() / 1000);
    const expiresAt = issuedAt + this.lifetimes.accessSeconds;
    const token = await new SignJWT({ tid: claims.tenantId, role: claims.role, fam: claims.familyId })
      .setProtectedHeader({ alg: ALGORITHM, typ: ACCESS_TYPE })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(claims.userId)
      .setJti(newEventId())
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(this.secret);
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }

  async issueRefresh(claims: Omit<RefreshClaims, 'expiresAt'>, expiresAt: number): Promise<string> {
    return new SignJWT({ tid: claims.tenantId, fam: claims.familyId, auth_time: claims.authTime, pwv: claims.passwordVersion })
      .setProtectedHeader({ alg: ALGORITHM, typ: REFRESH_TYPE })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(claims.userId)
      .setJti(claims.tokenId)
      .setIssuedAt()
      .setExpirationTime(expiresAt)
      .sign(this.secret);
  }

  async verifyAccess(token: string): Promise<AccessClaims> {
    const payload = await this.verify(token, ACCESS_TYPE, 'access');
    const role = payload.role;
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw invalid('access', 'it names no known role');
    return { userId: payload.sub!, tenantId: stringClaim(payload, 'tid', 'access'), role: role as Role, familyId: stringClaim(payload, 'fam', 'access'), tokenId: payload.jti!, issuedAt: payload.iat! };
  }

  async verifyRefresh(token: string): Promise<RefreshClaims> {
    const payload = await this.verify(token, REFRESH_TYPE, 'refresh');
    const authTime = payload.auth_time;
    const passwordVersion = payload.pwv;
    if (typeof authTime !== 'number' || typeof passwordVersion !== 'number') throw invalid('refresh', 'it carries no auth_time or pwv');
    return {
      userId: payload.sub!,
      tenantId: stringClaim(payload, 'tid', 'refresh'),
      familyId: stringClaim(payload, 'fam', 'refresh'),
      tokenId: payload.jti!,
      authTime,
      passwordVersion,
      expiresAt: payload.exp!,
    };
  }

  private async verify(token: string, typ: string, kind: 'access' | 'refresh'): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.secret, { algorithms: [ALGORITHM], issuer: ISSUER, audience: AUDIENCE, typ, requiredClaims: ['sub', 'jti', 'exp', 'iat'] });
      return payload;
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw unauthenticated('AUTH.TOKEN_EXPIRED', `the ${kind} token has expired`);
      if (error instanceof errors.JOSEError) throw invalid(kind, reasonOf(error));
      throw error;
    }
  }
}

function stringClaim(payload: JWTPayload, name: string, kind: 'access' | 'refresh'): string {
  const value = payload[name];
  if (typeof value !== 'string' || value.length === 0) throw invalid(kind, `it carries no ${name} claim`);
  return value;
}

function reasonOf(error: InstanceType<typeof errors.JOSEError>): string {
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'its algorithm is not HS256';
  if (error instanceof errors.JWTClaimValidationFailed) return `its ${error.claim} claim is not accepted`;
  return 'it is not a well-formed JWT';
}

function invalid(kind: 'access' | 'refresh', reason: string) {
  return unauthenticated('AUTH.INVALID_TOKEN', `the ${kind} token is not valid: ${reason}`);
}
