import { hash, verify } from '@node-rs/argon2';

/** `Algorithm.Argon2id` of @node-rs/argon2, a const enum that isolated modules cannot read. */
const ARGON2ID_ALGORITHM = 2;

/**
 * argon2id with the OWASP minimum (19 MiB, 2 passes, 1 lane): about 30 ms here, slow enough to
 * make offline guessing expensive, fast enough that sign-in is not a denial-of-service lever.
 */
const ARGON2ID = { algorithm: ARGON2ID_ALGORITHM, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN_LENGTH = 12;
/** Long enough for any passphrase, short enough that hashing cost stays bounded. */
export const PASSWORD_MAX_LENGTH = 128;

/** Among the most used passwords that still pass the length rule; refused outright. */
const COMMON = new Set(['password1234', 'password12345', 'password123456', '123456789012', 'qwertyuiopas', '111111111111', 'iloveyou1234', 'letmein12345', 'administrator', 'welcome12345', 'changeme1234', 'proofline123', 'passwordpassword']);

export interface PasswordProblem {
  readonly rule: string;
  readonly message: string;
}

/**
 * NIST SP 800-63B: length over composition rules. A password must be 12–128 characters, not a
 * well-known one, not mostly one character, and must not contain the account's e-mail name.
 */
export function passwordProblem(password: string, email: string): PasswordProblem | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return { rule: 'min-length', message: `password must be at least ${PASSWORD_MIN_LENGTH} characters (it has ${length})` };
  if (length > PASSWORD_MAX_LENGTH) return { rule: 'max-length', message: `password must be at most ${PASSWORD_MAX_LENGTH} characters (it has ${length})` };
  if (COMMON.has(password.toLowerCase())) return { rule: 'not-common', message: 'password is one of the most used passwords; choose another' };
  if (new Set(password).size < 5) return { rule: 'variety', message: 'password must use at least 5 different characters' };
  const name = email.split('@')[0].toLowerCase();
  if (name.length >= 4 && password.toLowerCase().includes(name)) return { rule: 'not-email', message: 'password must not contain the name part of your e-mail address' };
  return undefined;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2ID);
}

/** Constant-time inside argon2's verify; a malformed stored hash counts as a mismatch. */
export async function passwordMatches(storedHash: string, password: string): Promise<boolean> {
  return verify(storedHash, password).catch(() => false);
}

/**
 * Verified against when the account does not exist, so an unknown address costs the same time as
 * a wrong password and response times do not tell which addresses have accounts.
 */
export function unknownAccountHash(): Promise<string> {
  unknownAccount ??= hash('proofline-no-such-account', ARGON2ID);
  return unknownAccount;
}
let unknownAccount: Promise<string> | undefined;
