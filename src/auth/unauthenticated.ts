import { ProoflineError } from '../errors/proofline-error';

/** A 401 that tells the client how to authenticate (RFC 6750 §3). */
export function unauthenticated(code: string, message: string): ProoflineError {
  return new ProoflineError(code, message, 401, {}, { 'www-authenticate': 'Bearer realm="proofline"' });
}
