import { createHash } from 'node:crypto';
import { canonicalJson, EVENT_SIGNATURE_PURPOSE, type EventEnvelope, type EventSignature, type UnsignedEnvelope } from '../../contracts';
import { batchTree } from '../ledger/merkle/batch';
import { leafHash } from '../ledger/merkle/hashes';
import { signBound, verifyBytes, type DetachedVerification } from './detached-signature';
import { batchStatementBytesV2, signingInputBytesV2, verifyEnvelopeSignature, VerifiedStatements } from './envelope-signature';
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

  /** Signs version 2 bytes (docs/events.md): the signature's purpose, alg and keyId are inside what it signs. */
  seal(unsigned: UnsignedEnvelope): EventEnvelope {
    const hashed = withDataHash(unsigned);
    const signature = signBound(this.keys, (signer) => signingInputBytesV2(hashed, signer));
    return { ...hashed, metadata: { ...hashed.metadata, signature: { ...signature, purpose: EVENT_SIGNATURE_PURPOSE } } };
  }

  /** One signature for the whole batch; a batch of one is signed directly, as by `seal`. */
  sealBatch(unsigned: readonly UnsignedEnvelope[]): EventEnvelope[] {
    if (unsigned.length <= 1) return unsigned.map((envelope) => this.seal(envelope));
    const hashed = unsigned.map(withDataHash);
    let root = '';
    let proofs: Buffer[][] = [];
    // The leaves state the signer too, so the tree is built once the key is fixed, inside signBound.
    const signature = signBound(this.keys, (signer) => {
      const tree = batchTree(hashed.map((envelope) => leafHash(signingInputBytesV2(envelope, signer))));
      root = tree.root.toString('hex');
      proofs = tree.proofs;
      return batchStatementBytesV2(root, hashed.length, signer);
    });
    return hashed.map((envelope, index) => ({
      ...envelope,
      metadata: {
        ...envelope.metadata,
        signature: { ...signature, purpose: EVENT_SIGNATURE_PURPOSE, batch: { root, index, size: hashed.length, proof: proofs[index].map((hash) => hash.toString('hex')) } },
      },
    }));
  }

  /**
   * Signs other bytes with the active key (snapshots): the same keys, a detached signature.
   * `bodyFor` gets the signer's alg and keyId so the body can state them (docs/events.md).
   */
  signDetached(bodyFor: (signer: { readonly alg: EventSignature['alg']; readonly keyId: string }) => Buffer): EventSignature {
    return signBound(this.keys, bodyFor);
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
