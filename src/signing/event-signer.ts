import { createHash } from 'node:crypto';
import { canonicalJson, signingInputOf, type EventEnvelope, type UnsignedEnvelope } from '../../contracts';
import { signBytes, verifyBytes } from './detached-signature';
import type { KeyRegistry } from './key-registry';

export type VerificationFault = 'data-hash-mismatch' | 'unknown-key' | 'algorithm-mismatch' | 'bad-signature' | 'malformed';

export type Verification = { readonly valid: true } | { readonly valid: false; readonly fault: VerificationFault; readonly message: string };

/** SHA-256 over the RFC 8785 canonical JSON of an event's data, lowercase hex. */
export function dataHashOf(data: unknown): string {
  return createHash('sha256').update(canonicalJson(data), 'utf8').digest('hex');
}

/**
 * The append hook's cryptography: `seal` hashes the data and signs the canonical envelope
 * with the active key; `verify` recomputes both with the key the signature names.
 * The signed bytes are documented in docs/events.md so an auditor can verify without us.
 */
export class EventSigner {
  constructor(private readonly keys: KeyRegistry) {}

  seal(unsigned: UnsignedEnvelope): EventEnvelope {
    const metadata = { ...unsigned.metadata, dataHash: dataHashOf(unsigned.data) };
    const signature = signBytes(this.keys, Buffer.from(canonicalJson({ ...unsigned, metadata }), 'utf8'));
    return { ...unsigned, metadata: { ...metadata, signature } };
  }

  verify(envelope: EventEnvelope): Verification {
    const signature = envelope?.metadata?.signature;
    if (!signature || typeof signature.value !== 'string') return fault('malformed', `event ${envelope?.id} carries no signature`);
    if (dataHashOf(envelope.data) !== envelope.metadata.dataHash) {
      return fault('data-hash-mismatch', `event ${envelope.id}: data does not match metadata.dataHash`);
    }
    return verifyBytes(this.keys, Buffer.from(canonicalJson(signingInputOf(envelope)), 'utf8'), signature, `event ${envelope.id}`);
  }
}

function fault(kind: VerificationFault, message: string): Verification {
  return { valid: false, fault: kind, message };
}
