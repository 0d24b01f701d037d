import { createHash } from 'node:crypto';
import { canonicalJson, type EventEnvelope, type EventSignature, type UnsignedEnvelope } from '../../contracts';
import { batchTree } from '../ledger/merkle/batch';
import { leafHash } from '../ledger/merkle/hashes';
import { signBytes, verifyBytes, type DetachedVerification } from './detached-signature';
import { batchStatementBytes, signingInputBytes, verifyEnvelopeSignature, VerifiedStatements } from './envelope-signature';
import type { RecordedEvent } from '../eventstore/event-store.port';
import type { KeyRegistry } from './key-registry';
import { storedBytesFault } from './stored-event';

export type VerificationFault = 'data-hash-mismatch' | 'unknown-key' | 'algorithm-mismatch' | 'bad-signature' | 'malformed' | 'misfiled' | 'not-canonical' | 'key-lifecycle';

export type Verification = { readonly valid: true } | { readonly valid: false; readonly fault: VerificationFault; readonly message: string };

/** SHA-256 over the RFC 8785 canonical JSON of an event's data, lowercase hex. */
export function dataHashOf(data: unknown): string {
  return createHash('sha256').update(canonicalJson(data), 'utf8').digest('hex');
}

/**
 * The append hook's cryptography: `seal` hashes an event's data and signs it; `sealBatch` signs
 * the events of one append with a single signature over their Merkle root, so signing never
 * becomes the bottleneck of batched appends; `verify` checks either with the key named.
 * The signed bytes are documented in docs/events.md so an auditor can verify without us.
 */
export class EventSigner {
  private readonly verified = new VerifiedStatements();

  constructor(private readonly keys: KeyRegistry) {}

  seal(unsigned: UnsignedEnvelope): EventEnvelope {
    const hashed = withDataHash(unsigned);
    return { ...hashed, metadata: { ...hashed.metadata, signature: signBytes(this.keys, signingInputBytes(hashed)) } };
  }

  /** One signature for the whole batch; a batch of one is signed directly, as by `seal`. */
  sealBatch(unsigned: readonly UnsignedEnvelope[]): EventEnvelope[] {
    if (unsigned.length <= 1) return unsigned.map((envelope) => this.seal(envelope));
    const hashed = unsigned.map(withDataHash);
    const tree = batchTree(hashed.map((envelope) => leafHash(signingInputBytes(envelope))));
    const root = tree.root.toString('hex');
    const signature = signBytes(this.keys, batchStatementBytes(root, hashed.length));
    return hashed.map((envelope, index) => ({
      ...envelope,
      metadata: {
        ...envelope.metadata,
        signature: { ...signature, batch: { root, index, size: hashed.length, proof: tree.proofs[index].map((hash) => hash.toString('hex')) } },
      },
    }));
  }

  /** Signs other bytes with the active key (snapshots): the same keys, a detached signature. */
  signDetached(input: Buffer): EventSignature {
    return signBytes(this.keys, input);
  }

  verifyDetached(input: Buffer, signature: EventSignature, subject: string): DetachedVerification {
    return verifyBytes(this.keys, input, signature, subject);
  }

  /** Verifies an event as read from the store: its signature, and that it sits in the row its ids name. */
  verifyRecorded(recorded: RecordedEvent): Verification {
    const { envelope, storedAs } = recorded;
    if (storedAs.eventId !== envelope?.id || storedAs.streamId !== envelope.streamId || storedAs.tenantId !== envelope.tenantId) {
      return fault('misfiled', `event ${envelope?.id} of stream ${envelope?.streamId} is stored as event ${storedAs.eventId} of stream ${storedAs.streamId} (tenant ${storedAs.tenantId})`);
    }
    return this.verify(envelope);
  }

  /**
   * What the ledger and `events verify` require of a stored row: `verifyRecorded`, and before it
   * one byte string per event (storedBytesFault: the envelope's schema, canonical bytes, strict
   * signature encoding). Never throws.
   */
  verifyStored(recorded: RecordedEvent): Verification {
    const bytes = storedBytesFault(recorded);
    return bytes ? fault(bytes.fault, bytes.message) : this.verifyRecorded(recorded);
  }

  /** Never throws: an envelope of the wrong shape (written around Proofline) is a `malformed` fault. */
  verify(envelope: EventEnvelope): Verification {
    try {
      return this.verifyShaped(envelope);
    } catch (error) {
      return fault('malformed', `event ${envelope?.id} cannot be checked: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private verifyShaped(envelope: EventEnvelope): Verification {
    const signature = envelope?.metadata?.signature;
    if (!signature || typeof signature.value !== 'string') return fault('malformed', `event ${envelope?.id} carries no signature`);
    if (dataHashOf(envelope.data) !== envelope.metadata.dataHash) {
      return fault('data-hash-mismatch', `event ${envelope.id}: data does not match metadata.dataHash`);
    }
    return verifyEnvelopeSignature(envelope, (keyId) => this.keys.get(keyId), this.verified);
  }
}

function withDataHash(unsigned: UnsignedEnvelope) {
  return { ...unsigned, metadata: { ...unsigned.metadata, dataHash: dataHashOf(unsigned.data) } };
}

function fault(kind: VerificationFault, message: string): Verification {
  return { valid: false, fault: kind, message };
}
