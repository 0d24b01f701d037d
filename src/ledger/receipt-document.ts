import { createPublicKey, type KeyObject } from 'node:crypto';
import { canonicalJson, type EventEnvelope } from '../../contracts';
import { verifyEnvelopeSignature } from '../signing/envelope-signature';
import type { PublishedKey } from '../signing/signing-key';
import { algorithmOf, keyIdOf } from '../signing/signing-key';
import type { SignedCheckpoint } from './checkpoint';
import { checkpointVerifiesWith } from './checkpoint-signature';
import { verifyExtendsKept } from './kept-checkpoint';
import { leafHash } from './merkle/hashes';
import { isValidInclusion } from './merkle/verify';
import { receiptBytes, sha256Hex, type Receipt } from './receipt';

export const RECEIPT_DOCUMENT_FORMAT = 'proofline.receipt-proof.v1';

/** Everything needed to check one receipt with no database and no network (docs/ledger.md). */
export interface ReceiptDocument {
  readonly format: typeof RECEIPT_DOCUMENT_FORMAT;
  readonly receipt: Receipt;
  readonly event: EventEnvelope;
  readonly inclusionProof: { readonly leafIndex: number; readonly treeSize: number; readonly hashes: readonly string[] };
  readonly checkpoint: SignedCheckpoint;
  /** Present when asked for with ?since=N: the RFC 6962 consistency proof from size N to the checkpoint's size. */
  readonly consistency?: { readonly fromSize: number; readonly hashes: readonly string[] };
  /** The keys named by the event's and the checkpoint's signatures, with their certificates. Informative: trust comes from the key the verifier is given. */
  readonly keys: ReadonlyArray<Pick<PublishedKey, 'keyId' | 'alg' | 'publicKeyPem' | 'certificatePem'>>;
}

export interface DocumentCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
}

export interface DocumentVerification {
  readonly valid: boolean;
  readonly checks: readonly DocumentCheck[];
}

/**
 * Checks a receipt document against public keys the auditor trusts (obtained out of band, e.g.
 * from /.well-known/proofline/keys on a day they trusted it). Runs every check and reports each.
 */
export interface ReceiptDocumentOptions {
  /** A checkpoint the auditor kept: the document's checkpoint must extend it (document.consistency proves it). */
  readonly since?: SignedCheckpoint;
  /** The log's full origin (`<instance>/<tenant>`); without it only the tenant suffix is checked. */
  readonly origin?: string;
}

export function verifyReceiptDocument(document: ReceiptDocument, trustedKeys: readonly KeyObject[], options: ReceiptDocumentOptions = {}): DocumentVerification {
  const byId = new Map(trustedKeys.map((key) => [keyIdOf(key), key]));
  const checks: DocumentCheck[] = [];
  const check = (name: string, ok: boolean, message: string) => checks.push({ name, ok, message });
  const { receipt, event, inclusionProof, checkpoint } = document;

  check('format', document.format === RECEIPT_DOCUMENT_FORMAT, `format is ${String(document.format)}`);
  const eventKey = byId.get(event.metadata.signature.keyId);
  const dataHash = sha256Hex(Buffer.from(canonicalJson(event.data), 'utf8'));
  check('event data hash', dataHash === event.metadata.dataHash, `SHA-256 of the event data is ${dataHash}`);
  const eventSignature = eventKey
    ? verifyEnvelopeSignature(event, (keyId) => (keyId === event.metadata.signature.keyId ? { publicKey: eventKey, alg: algorithmOf(eventKey) } : undefined))
    : undefined;
  check(
    'event signature',
    eventSignature?.valid === true,
    !eventKey ? `key ${event.metadata.signature.keyId} is not among the trusted keys` : eventSignature?.valid ? `signed by trusted key ${event.metadata.signature.keyId}` : (eventSignature as { message: string }).message,
  );
  const eventHash = sha256Hex(Buffer.from(canonicalJson(event), 'utf8'));
  check('receipt names the event', receipt.eventId === event.id && receipt.tenantId === event.tenantId && receipt.eventHash === eventHash, `event hash ${eventHash}`);
  const bytes = receiptBytes(receipt);
  check('receipt hash', sha256Hex(bytes) === receipt.receiptHash, `SHA-256 of the receipt is ${sha256Hex(bytes)}`);
  const proofFits = inclusionProof.leafIndex === receipt.sequence && inclusionProof.treeSize === checkpoint.treeSize;
  check(
    'inclusion in the checkpoint',
    proofFits && isValidInclusion(leafHash(bytes), receipt.sequence, checkpoint.treeSize, inclusionProof.hashes.map((h) => Buffer.from(h, 'hex')), Buffer.from(checkpoint.rootHash, 'hex')),
    `leaf ${receipt.sequence} of a tree of size ${checkpoint.treeSize} with ${inclusionProof.hashes.length} proof hashes`,
  );
  const checkpointKey = byId.get(checkpoint.signature.keyId);
  check(
    'checkpoint signature',
    checkpointKey !== undefined && checkpointVerifiesWith(checkpointKey, checkpoint),
    checkpointKey ? `signed by trusted key ${checkpoint.signature.keyId}` : `key ${checkpoint.signature.keyId} is not among the trusted keys`,
  );
  check('checkpoint names the tenant', checkpoint.origin.endsWith(`/${receipt.tenantId}`), `origin ${checkpoint.origin}`);
  if (options.origin !== undefined) check('origin pinned', checkpoint.origin === options.origin, `origin ${checkpoint.origin}, expected ${options.origin}`);
  if (options.since) {
    const proof = document.consistency;
    if (!proof || proof.fromSize !== options.since.treeSize) {
      check('extends the kept head', false, `the document carries no consistency proof from size ${options.since.treeSize}: fetch it with ?since=${options.since.treeSize}`);
    } else {
      for (const kept of verifyExtendsKept(options.since, checkpoint, proof.hashes, trustedKeys, options.origin)) checks.push(kept);
    }
  }
  return { valid: checks.every((c) => c.ok), checks };
}

export function publicKeysFromPem(pems: readonly string[]): KeyObject[] {
  return pems.map((pem) => createPublicKey(pem));
}
