import { createHash, sign, verify } from 'node:crypto';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { newEventId, type EventEnvelope, type UnsignedEnvelope } from '../../../contracts';
import { batchTree } from '../../../src/ledger/merkle/batch';
import { inclusionProof, rootFromLeafHashes } from '../../../src/ledger/merkle/tree';
import { EventSigner } from '../../../src/signing/event-signer';
import { KeyRegistry } from '../../../src/signing/key-registry';

const unsigned = (n: number, data: Record<string, unknown> = {}): UnsignedEnvelope => ({
  id: newEventId(),
  type: 'workspaces.renamed',
  schemaVersion: 1,
  streamId: 'workspace-t1',
  tenantId: 't1',
  occurredAt: '2026-11-21T12:00:00.000Z',
  actor: { id: 'alice', role: 'ADMIN' },
  data: { name: `name-${n}`, previousName: `name-${n - 1}`, ...data } as UnsignedEnvelope['data'],
  metadata: { correlationId: 'c', causationId: 'c', commandId: 'c' },
});
const batchOf = (size: number) => Array.from({ length: size }, (_, n) => unsigned(n));
const sha256 = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();

describe('batchTree', () => {
  it('gives every leaf the same proof as inclusionProof, and the same root, for every size up to 64', () => {
    const leaves = Array.from({ length: 64 }, (_, i) => sha256(Buffer.from([i])));
    for (let size = 1; size <= 64; size++) {
      const tree = batchTree(leaves.slice(0, size));
      expect(tree.root).toEqual(rootFromLeafHashes(leaves.slice(0, size)));
      for (let index = 0; index < size; index++) expect(tree.proofs[index]).toEqual(inclusionProof(leaves, index, size));
    }
  });
});

describe.each(['rsa', 'ed25519'] as const)('batch signatures (%s)', (keyType) => {
  const keys = KeyRegistry.open({ keyType });
  const signer = new EventSigner(keys);

  it('given a batch of one, then it is signed directly, with no batch field', () => {
    const [sealed] = signer.sealBatch([unsigned(1)]);
    expect(sealed.metadata.signature.batch).toBeUndefined();
    expect(signer.verify(sealed)).toEqual({ valid: true });
  });

  it('given a batch of n, then one signature covers all and every event verifies on its own', () => {
    const sealed = signer.sealBatch(batchOf(7));
    expect(new Set(sealed.map((e) => e.metadata.signature.value)).size).toBe(1);
    sealed.forEach((event, index) => {
      expect(event.metadata.signature.batch).toMatchObject({ index, size: 7 });
      expect(new EventSigner(keys).verify(event)).toEqual({ valid: true });
    });
  });

  it('given any change to one member, then that member fails and the others still verify', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.nat(), fc.constantFrom('data', 'type', 'proof', 'index', 'root', 'value'), (size, pick, what) => {
        const sealed = signer.sealBatch(batchOf(size));
        const target = pick % size;
        const tampered = tamper(sealed[target], what);
        const fresh = new EventSigner(keys);
        expect(fresh.verify(tampered).valid).toBe(false);
        sealed.filter((_, i) => i !== target).forEach((event) => expect(fresh.verify(event)).toEqual({ valid: true }));
      }),
      { numRuns: 60 },
    );
  });

  it('can be verified with only node:crypto and canonicalize, as docs/events.md describes (version 2)', () => {
    const sealed = signer.sealBatch(batchOf(5));
    const publicKey = keys.active().publicKey;
    for (const event of sealed) {
      const { signature } = event.metadata;
      expect(signature.purpose).toBe('proofline.event.v2');
      // The leaf input: the envelope with the signature block reduced to alg, keyId and purpose.
      const input = Buffer.from(canonicalize({ ...event, metadata: { ...event.metadata, signature: { alg: signature.alg, keyId: signature.keyId, purpose: signature.purpose } } })!, 'utf8');
      let hash = sha256(Buffer.from([0x00]), input);
      let fn = signature.batch!.index;
      let sn = signature.batch!.size - 1;
      for (const sibling of signature.batch!.proof.map((h) => Buffer.from(h, 'hex'))) {
        if (fn % 2 === 1 || fn === sn) {
          hash = sha256(Buffer.from([0x01]), sibling, hash);
          while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn >> 1, sn >> 1];
        } else {
          hash = sha256(Buffer.from([0x01]), hash, sibling);
        }
        [fn, sn] = [fn >> 1, sn >> 1];
      }
      expect(hash.toString('hex')).toBe(signature.batch!.root);
      const statement = Buffer.from(
        canonicalize({ type: 'proofline.event-batch.v2', alg: signature.alg, keyId: signature.keyId, root: signature.batch!.root, size: 5 })!,
        'utf8',
      );
      // The docs' printf gives the same bytes.
      expect(statement.toString('utf8')).toBe(`{"alg":"${signature.alg}","keyId":"${signature.keyId}","root":"${signature.batch!.root}","size":5,"type":"proofline.event-batch.v2"}`);
      expect(verify(keyType === 'rsa' ? 'sha256' : null, statement, publicKey, Buffer.from(signature.value, 'base64'))).toBe(true);
    }
  });
});

describe.each(['rsa', 'ed25519'] as const)('batch signatures: version 1 kept, versions never cross (%s)', (keyType) => {
  const keys = KeyRegistry.open({ keyType });
  const signer = new EventSigner(keys);
  const digest = keyType === 'rsa' ? 'sha256' : null;

  /** A batch as Proofline signed it before version 2: v1 leaves and the v1 statement, no purpose. */
  function sealedV1(size: number): EventEnvelope[] {
    const key = keys.active();
    const hashed = batchOf(size).map((envelope) => ({ ...envelope, metadata: { ...envelope.metadata, dataHash: createHash('sha256').update(canonicalize(envelope.data)!, 'utf8').digest('hex') } }));
    const tree = batchTree(hashed.map((envelope) => sha256(Buffer.from([0x00]), Buffer.from(canonicalize(envelope)!, 'utf8'))));
    const root = tree.root.toString('hex');
    const value = sign(digest, Buffer.from(canonicalize({ type: 'proofline.event-batch.v1', root, size })!, 'utf8'), key.privateKey!).toString('base64');
    return hashed.map((envelope, index) => ({
      ...envelope,
      metadata: { ...envelope.metadata, signature: { alg: key.alg, keyId: key.keyId, value, batch: { root, index, size, proof: tree.proofs[index].map((h) => h.toString('hex')) } } },
    }));
  }

  it('given a stored v1 batch, then every member still verifies', () => {
    for (const event of sealedV1(4)) expect(new EventSigner(keys).verify(event)).toEqual({ valid: true });
  });

  it('given a v1 batch signature presented as v2 (purpose added), then it is refused', () => {
    const [event] = sealedV1(3);
    const replayed = { ...event, metadata: { ...event.metadata, signature: { ...event.metadata.signature, purpose: 'proofline.event.v2' as const } } };
    expect(new EventSigner(keys).verify(replayed)).toMatchObject({ valid: false, fault: 'bad-signature' });
  });

  it('given a v2 batch signature presented as v1 (purpose removed), then it is refused', () => {
    const [event] = signer.sealBatch(batchOf(3));
    const { purpose: _purpose, ...v1Block } = event.metadata.signature;
    expect(new EventSigner(keys).verify({ ...event, metadata: { ...event.metadata, signature: v1Block } })).toMatchObject({ valid: false, fault: 'bad-signature' });
  });

  it('given a v2 batch whose statement was signed for another keyId than the block names, then it is refused', () => {
    const key = keys.active();
    const [event] = signer.sealBatch(batchOf(2));
    const { root, size } = event.metadata.signature.batch!;
    const statement = Buffer.from(canonicalize({ type: 'proofline.event-batch.v2', alg: key.alg, keyId: 'f'.repeat(32), root, size })!, 'utf8');
    const value = sign(digest, statement, key.privateKey!).toString('base64');
    const forged = { ...event, metadata: { ...event.metadata, signature: { ...event.metadata.signature, value } } };
    expect(new EventSigner(keys).verify(forged)).toMatchObject({ valid: false, fault: 'bad-signature' });
  });
});

function tamper(event: EventEnvelope, what: string): EventEnvelope {
  const copy = JSON.parse(JSON.stringify(event)) as EventEnvelope & { data: Record<string, unknown>; metadata: { signature: { batch: { proof: string[]; index: number; root: string }; value: string } } };
  const batch = copy.metadata.signature.batch;
  const flip = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
  if (what === 'data') copy.data.name = 'mallory';
  if (what === 'type') (copy as { type: string }).type = 'workspaces.closed';
  if (what === 'proof') batch.proof = batch.proof.length > 0 ? [flip(batch.proof[0]), ...batch.proof.slice(1)] : [flip(batch.root)];
  if (what === 'index') batch.index = (batch.index + 1) % (batch.proof.length > 0 ? 2 ** batch.proof.length : 2);
  if (what === 'root') batch.root = flip(batch.root);
  if (what === 'value') copy.metadata.signature.value = Buffer.from(Buffer.from(copy.metadata.signature.value, 'base64').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64');
  return copy;
}
