import type { KeyObject } from 'node:crypto';
import { canonicalJson, type EventEnvelope, type JsonObject } from '../../../contracts';
import type { Database } from '../../../src/database/database';
import type { SignedCheckpoint } from '../../../src/ledger/checkpoint';
import type { Ledger } from '../../../src/ledger/ledger';
import { publicKeysFromPem, verifyReceiptDocument, type ReceiptDocument } from '../../../src/ledger/receipt-document';
import { receiptBytes, sha256Hex } from '../../../src/ledger/receipt';
import { dataHashOf } from '../../../src/signing/event-signer';
import { openEmbeddedTestDatabase } from '../../support/databases';
import { assertEmbeddedDatabaseCanStart } from '../../conformance/helpers';
import { appendInterleaved, catchUpFully, freshSigning, ledgerOn, storeOn, type Signing } from '../../integration/ledger/ledger-fixture';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };
type Doc = Mutable<ReceiptDocument>;

const A = 'tenant-doc-a';
const B = 'tenant-doc-b';
const SEQ = 5;

const CHECKS = [
  'format',
  'event data hash',
  'event signature',
  'receipt names the event',
  'receipt hash',
  'inclusion in the checkpoint',
  'checkpoint signature',
  'checkpoint names the tenant',
] as const;
type CheckName = (typeof CHECKS)[number];

describe('receipt documents: a standalone proof, checked offline [embedded PGlite]', () => {
  let db: Database;
  let signing: Signing;
  let ledger: Ledger;
  let trusted: KeyObject[];
  let document: ReceiptDocument;
  let neighbour: ReceiptDocument;
  let otherTenant: ReceiptDocument;
  let earlierCheckpoint: SignedCheckpoint;

  beforeAll(async () => {
    assertEmbeddedDatabaseCanStart();
    db = await openEmbeddedTestDatabase();
    signing = freshSigning();
    const store = storeOn(db.knex);
    ledger = ledgerOn(db.knex, store, signing, { instance: 'doc-test', checkpointEvery: 4, batchSize: 3 });
    for (let round = 0; round < 3; round++) {
      await appendInterleaved(store, signing.signer, [A, B, A, A, B, A, A]);
      await catchUpFully(ledger.builder, db.knex);
    }
    await ledger.builder.checkpointNow(A);
    await catchUpFully(ledger.builder, db.knex);
    trusted = [signing.keys.active().publicKey];
    document = await ledger.receiptDocument(A, SEQ);
    neighbour = await ledger.receiptDocument(A, SEQ + 1);
    otherTenant = await ledger.receiptDocument(B, 2);
    earlierCheckpoint = (await ledger.repository.checkpoints(A))[0];
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  const copy = (doc: ReceiptDocument = document): Doc => structuredClone(doc) as Doc;
  const failing = (doc: ReceiptDocument | Doc, keys: readonly KeyObject[] = trusted): CheckName[] =>
    verifyReceiptDocument(doc as ReceiptDocument, keys)
      .checks.filter((check) => !check.ok)
      .map((check) => check.name as CheckName);

  describe('a good document', () => {
    it('given the document of a receipt under the latest checkpoint, then every check passes with the published key', () => {
      const result = verifyReceiptDocument(document, trusted);
      expect(result.checks.map((check) => check.name)).toEqual([...CHECKS]);
      expect(result).toMatchObject({ valid: true });
      expect(document).toMatchObject({ format: 'proofline.receipt-proof.v1', receipt: { tenantId: A, sequence: SEQ }, event: { tenantId: A }, checkpoint: { origin: `doc-test/${A}` } });
      expect(document.inclusionProof).toMatchObject({ leafIndex: SEQ, treeSize: document.checkpoint.treeSize });
      expect(document.inclusionProof.hashes.length).toBeGreaterThan(1);
    });

    it('given every receipt the latest checkpoint covers, then each one has a document that verifies', async () => {
      const { treeSize } = await ledger.checkpoint(A);
      for (let sequence = 0; sequence < treeSize; sequence++) {
        const doc = await ledger.receiptDocument(A, sequence);
        expect({ sequence, failing: failing(doc) }).toEqual({ sequence, failing: [] });
      }
    });

    it('is self-sufficient: after JSON.stringify and JSON.parse it still verifies, with the key PEM it carries or the one published', () => {
      const travelled = JSON.parse(JSON.stringify(document)) as ReceiptDocument;
      expect(verifyReceiptDocument(travelled, trusted).valid).toBe(true);
      expect(verifyReceiptDocument(travelled, publicKeysFromPem(travelled.keys.map((key) => key.publicKeyPem))).valid).toBe(true);
      expect(verifyReceiptDocument(travelled, publicKeysFromPem(signing.keys.published().map((key) => key.publicKeyPem))).valid).toBe(true);
      expect(travelled.keys.map((key) => key.keyId)).toEqual([signing.keys.active().keyId]);
    });
  });

  describe('each single tampering fails the check it should, and only those', () => {
    const cases: Array<[string, (doc: Doc) => void, CheckName[]]> = [
      ['event data changed', (doc) => void (doc.event.data.n = 999), ['event data hash', 'event signature', 'receipt names the event']],
      [
        'event data changed and its dataHash recomputed',
        (doc) => {
          doc.event.data = { ...doc.event.data, n: 999 };
          doc.event.metadata.dataHash = dataHashOf(doc.event.data);
        },
        ['event signature', 'receipt names the event'],
      ],
      ["event signature replaced by another event's", (doc) => void (doc.event.metadata.signature = { ...neighbour.event.metadata.signature }), ['event signature', 'receipt names the event']],
      ['a different, genuinely signed event put in its place', (doc) => void (doc.event = structuredClone(neighbour.event) as Doc['event']), ['receipt names the event']],
      ['receipt field changed (position)', (doc) => void (doc.receipt.position = '1/1'), ['receipt hash', 'inclusion in the checkpoint']],
      ['receipt field changed (prevHash)', (doc) => void (doc.receipt.prevHash = neighbour.receipt.prevHash), ['receipt hash', 'inclusion in the checkpoint']],
      [
        'receipt field changed and its receiptHash recomputed',
        (doc) => {
          doc.receipt.position = '1/1';
          doc.receipt.receiptHash = sha256Hex(receiptBytes(doc.receipt));
        },
        ['inclusion in the checkpoint'],
      ],
      ['receipt hash changed', (doc) => void (doc.receipt.receiptHash = flip(doc.receipt.receiptHash)), ['receipt hash']],
      ['a proof hash flipped', (doc) => void (doc.inclusionProof.hashes[1] = flip(doc.inclusionProof.hashes[1])), ['inclusion in the checkpoint']],
      ['proof truncated', (doc) => void doc.inclusionProof.hashes.pop(), ['inclusion in the checkpoint']],
      ['proof extended', (doc) => void doc.inclusionProof.hashes.push(doc.inclusionProof.hashes[0]), ['inclusion in the checkpoint']],
      ['proof leafIndex changed', (doc) => void (doc.inclusionProof.leafIndex += 1), ['inclusion in the checkpoint']],
      ['proof treeSize changed', (doc) => void (doc.inclusionProof.treeSize -= 1), ['inclusion in the checkpoint']],
      ['checkpoint treeSize changed', (doc) => void (doc.checkpoint.treeSize -= 1), ['inclusion in the checkpoint', 'checkpoint signature']],
      ['checkpoint root changed', (doc) => void (doc.checkpoint.rootHash = flip(doc.checkpoint.rootHash)), ['inclusion in the checkpoint', 'checkpoint signature']],
      ["checkpoint signature replaced by another checkpoint's", (doc) => void (doc.checkpoint.signature = { ...earlierCheckpoint.signature }), ['checkpoint signature']],
      ['checkpoint origin edited to name another tenant', (doc) => void (doc.checkpoint.origin = `doc-test/${B}`), ['checkpoint signature', 'checkpoint names the tenant']],
      ["another tenant's genuine checkpoint", (doc) => void (doc.checkpoint = structuredClone(otherTenant.checkpoint) as Doc['checkpoint']), ['inclusion in the checkpoint', 'checkpoint names the tenant']],
      ['a proof hash that is not hex', (doc) => void (doc.inclusionProof.hashes[0] = 'not hex at all'), ['inclusion in the checkpoint']],
      [
        'event signature passed off as version 1 (purpose removed)',
        (doc) => void delete (doc.event.metadata.signature as { purpose?: string }).purpose,
        ['event signature', 'receipt names the event'],
      ],
      ['event signature claiming another purpose', (doc) => void ((doc.event.metadata.signature as { purpose: string }).purpose = 'proofline.event-batch.v2'), ['event signature', 'receipt names the event']],
      ['event signature block naming another keyId', (doc) => void (doc.event.metadata.signature.keyId = doc.checkpoint.signature.keyId.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))), ['event signature', 'receipt names the event']],
      ['event signature value garbled', (doc) => void (doc.event.metadata.signature.value = 'AAAA'), ['event signature', 'receipt names the event']],
      ['checkpoint signature value garbled', (doc) => void (doc.checkpoint.signature.value = '!!not base64!!'), ['checkpoint signature']],
      ['format changed', (doc) => void ((doc as { format: string }).format = 'proofline.receipt-proof.v0'), ['format']],
    ];

    it.each(cases)('given %s, then the document is invalid', (_name, tamper, expected) => {
      const doc = copy();
      tamper(doc);
      expect(canonicalJson(doc as unknown as JsonObject)).not.toBe(canonicalJson(document as unknown as JsonObject));

      expect(verifyReceiptDocument(doc as ReceiptDocument, trusted).valid).toBe(false);
      expect(failing(doc)).toEqual(expected);
    });

    it('given a key the auditor does not trust (a different one, or none), then both signatures fail', () => {
      const stranger = freshSigning().keys.active().publicKey;
      expect(failing(document, [stranger])).toEqual(['event signature', 'checkpoint signature']);
      expect(failing(document, [])).toEqual(['event signature', 'checkpoint signature']);
      expect(verifyReceiptDocument(document, [stranger]).valid).toBe(false);
    });

    it('given the document re-signed end to end by an untrusted key, then it is still refused', () => {
      const forger = freshSigning();
      const doc = copy();
      const event = forger.signer.seal({ ...(doc.event as unknown as EventEnvelope), metadata: { correlationId: 'x', causationId: 'x', commandId: 'x' } });
      doc.event = event as unknown as Doc['event'];
      expect(event.metadata.signature.keyId).not.toBe(document.event.metadata.signature.keyId);
      expect(failing(doc)).toEqual(['event signature', 'receipt names the event']);
    });
  });
});

function flip(hex: string): string {
  return `${hex[0] === '0' ? '1' : '0'}${hex.slice(1)}`;
}
