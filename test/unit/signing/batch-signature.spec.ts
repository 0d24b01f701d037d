import { createHash, verify } from 'node:crypto';
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

  it('can be verified with only node:crypto and canonicalize, as docs/events.md describes', () => {
    const sealed = signer.sealBatch(batchOf(5));
    const publicKey = keys.active().publicKey;
    for (const event of sealed) {
      const { signature, ...metadata } = event.metadata;
      const input = Buffer.from(canonicalize({ ...event, metadata })!, 'utf8');
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
      const statement = Buffer.from(canonicalize({ type: 'proofline.event-batch.v1', root: signature.batch!.root, size: 5 })!, 'utf8');
      expect(verify(keyType === 'rsa' ? 'sha256' : null, statement, publicKey, Buffer.from(signature.value, 'base64'))).toBe(true);
    }
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
