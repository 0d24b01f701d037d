import { createHash, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import type { EventEnvelope, JsonObject, JsonValue, UnsignedEnvelope } from '../../../contracts';
import { canonicalJson } from '../../../contracts';
import { dataHashOf, EventSigner, type Verification } from '../../../src/signing/event-signer';
import { KeyRegistry } from '../../../src/signing/key-registry';

const ALGORITHMS = [
  { alg: 'RS256', keyType: 'rsa' },
  { alg: 'EdDSA', keyType: 'ed25519' },
] as const;

function unsignedEnvelope(data: JsonObject = { workspaceId: 'ws-1', name: 'Acme', planTier: 'FREE', seats: 3, tags: ['a', 'b'] }): UnsignedEnvelope {
  return {
    id: '0190a5b4-7c1e-7d3a-9f00-0123456789ab',
    type: 'workspaces.registered',
    schemaVersion: 1,
    streamId: 'workspace-tenant-1',
    tenantId: 'tenant-1',
    occurredAt: '2026-11-21T20:55:45.123Z',
    actor: { id: 'user-1', role: 'owner' },
    data,
    metadata: { correlationId: 'corr-1', causationId: 'cause-1', commandId: 'cmd-1', idempotencyKey: 'idem-1' },
  };
}

/** A deep copy with one change: `path` names a field, `change` maps its old value to the new one. */
function mutated(envelope: EventEnvelope, path: readonly string[], change: (old: JsonValue) => JsonValue): EventEnvelope {
  const copy = JSON.parse(JSON.stringify(envelope)) as Record<string, JsonValue>;
  let holder = copy as Record<string, JsonValue>;
  for (const key of path.slice(0, -1)) holder = holder[key] as Record<string, JsonValue>;
  const last = path[path.length - 1];
  holder[last] = change(holder[last]);
  return copy as unknown as EventEnvelope;
}

const flip = (value: JsonValue): JsonValue => (typeof value === 'string' ? `${value}x` : typeof value === 'number' ? value + 1 : `${JSON.stringify(value)}!`);

const faultOf = (verification: Verification) => (verification.valid ? 'valid' : verification.fault);

describe.each(ALGORITHMS)('EventSigner ($alg)', ({ alg, keyType }) => {
  let registry: KeyRegistry;
  let signer: EventSigner;
  let sealed: EventEnvelope;

  beforeAll(() => {
    registry = KeyRegistry.open({ keyType });
    signer = new EventSigner(registry);
    sealed = signer.seal(unsignedEnvelope());
  });

  it('seal then verify is valid', () => {
    expect(signer.verify(sealed)).toEqual({ valid: true });
  });

  it('names the active key and its algorithm, with a standard base64 value', () => {
    expect(sealed.metadata.signature).toEqual({ alg, keyId: registry.active().keyId, purpose: 'proofline.event.v2', value: expect.any(String) });
    expect(sealed.metadata.signature.value).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(sealed.metadata.signature.value, 'base64')).toHaveLength(alg === 'RS256' ? 256 : 64);
  });

  it('keeps everything it was given and adds only dataHash and signature', () => {
    const unsigned = unsignedEnvelope();
    const { dataHash, signature, ...metadata } = sealed.metadata;
    expect({ ...sealed, metadata }).toEqual(unsigned);
    expect(dataHash).toMatch(/^[0-9a-f]{64}$/);
    expect(signature).toBeDefined();
  });

  it('does not change the envelope it seals', () => {
    const unsigned = unsignedEnvelope();
    const before = JSON.stringify(unsigned);
    signer.seal(unsigned);
    expect(JSON.stringify(unsigned)).toBe(before);
  });

  it('dataHash is the SHA-256 of the canonical JSON of data', () => {
    const expected = createHash('sha256').update(canonicalJson(sealed.data), 'utf8').digest('hex');
    expect(sealed.metadata.dataHash).toBe(expected);
    expect(dataHashOf(sealed.data)).toBe(expected);
  });

  it('dataHash does not depend on key order', () => {
    expect(dataHashOf({ b: 1, a: [1, { y: 2, x: 1 }] })).toBe(dataHashOf({ a: [1, { x: 1, y: 2 }], b: 1 }));
  });

  describe('the signature covers everything but its own value (version 2: alg, keyId and purpose included)', () => {
    it.each([
      [['type'], 'bad-signature'],
      [['schemaVersion'], 'bad-signature'],
      [['id'], 'bad-signature'],
      [['streamId'], 'bad-signature'],
      [['tenantId'], 'bad-signature'],
      [['occurredAt'], 'bad-signature'],
      [['actor', 'id'], 'bad-signature'],
      [['actor', 'role'], 'bad-signature'],
      [['metadata', 'correlationId'], 'bad-signature'],
      [['metadata', 'causationId'], 'bad-signature'],
      [['metadata', 'commandId'], 'bad-signature'],
      [['metadata', 'idempotencyKey'], 'bad-signature'],
      [['metadata', 'signature', 'value'], 'bad-signature'],
      // data and its hash no longer agree: that check comes first, whichever of the two was changed
      [['metadata', 'dataHash'], 'data-hash-mismatch'],
      [['data', 'name'], 'data-hash-mismatch'],
      [['data', 'seats'], 'data-hash-mismatch'],
      [['data', 'tags'], 'data-hash-mismatch'],
    ] as const)('changing %j gives %s', (path, expected) => {
      const tampered = mutated(sealed, path, (old) => (path.join('.') === 'metadata.signature.value' ? otherSignature(old as string) : flip(old)));
      const verification = signer.verify(tampered);
      expect(faultOf(verification)).toBe(expected);
      if (!verification.valid) expect(verification.message).toContain(sealed.id);
    });

    it('changing data and recomputing dataHash still breaks the signature', () => {
      const data = { ...sealed.data, name: 'Evil Corp' };
      const tampered = { ...sealed, data, metadata: { ...sealed.metadata, dataHash: dataHashOf(data) } };
      expect(faultOf(signer.verify(tampered))).toBe('bad-signature');
    });

    it('adding a field to the envelope breaks the signature', () => {
      const tampered = { ...sealed, extra: 'x' } as EventEnvelope;
      expect(faultOf(signer.verify(tampered))).toBe('bad-signature');
    });

    it('removing the optional idempotencyKey breaks the signature', () => {
      const { idempotencyKey: _idempotencyKey, ...metadata } = sealed.metadata;
      expect(faultOf(signer.verify({ ...sealed, metadata }))).toBe('bad-signature');
    });

    it('re-ordering keys changes nothing: the signed bytes are canonical', () => {
      const reordered = reversedKeys(sealed) as EventEnvelope;
      expect(Object.keys(reordered)).toEqual(Object.keys(sealed).reverse());
      expect(signer.verify(reordered)).toEqual({ valid: true });
    });
  });

  it('an unknown keyId gives unknown-key', () => {
    const tampered = mutated(sealed, ['metadata', 'signature', 'keyId'], () => '0'.repeat(32));
    expect(faultOf(signer.verify(tampered))).toBe('unknown-key');
  });

  it('a signature claiming the other algorithm gives algorithm-mismatch', () => {
    const tampered = mutated(sealed, ['metadata', 'signature', 'alg'], () => (alg === 'RS256' ? 'EdDSA' : 'RS256'));
    expect(faultOf(signer.verify(tampered))).toBe('algorithm-mismatch');
  });

  it('a missing signature gives malformed', () => {
    const { signature: _signature, ...metadata } = sealed.metadata;
    expect(faultOf(signer.verify({ ...sealed, metadata } as unknown as EventEnvelope))).toBe('malformed');
  });

  it('a signature without a value gives malformed', () => {
    const tampered = { ...sealed, metadata: { ...sealed.metadata, signature: { alg, keyId: sealed.metadata.signature.keyId } } };
    expect(faultOf(signer.verify(tampered as unknown as EventEnvelope))).toBe('malformed');
  });

  it('another registry (another instance, another key) does not know the key', () => {
    const other = new EventSigner(KeyRegistry.open({ keyType }));
    expect(faultOf(other.verify(sealed))).toBe('unknown-key');
  });

  describe('properties', () => {
    // Full Unicode (no lone surrogates: they have no UTF-8 form and canonicalJson refuses them).
    const json = (maxDepth: number) => fc.jsonValue({ maxDepth, stringUnit: 'grapheme' });
    const key = fc.string({ maxLength: 12, unit: 'grapheme' });
    const data = fc.dictionary(key, json(3), { maxKeys: 8 }) as fc.Arbitrary<JsonObject>;

    it('seal then verify is valid for any JSON data', () => {
      fc.assert(
        fc.property(data, (generated) => {
          expect(signer.verify(signer.seal(unsignedEnvelope(generated)))).toEqual({ valid: true });
        }),
        { numRuns: alg === 'RS256' ? 60 : 200 },
      );
    });

    it('any single-field change of data invalidates it: data-hash-mismatch, or bad-signature when the hash is recomputed', () => {
      const change = fc.oneof(
        fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), value: json(2) }),
        fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant('add' as const), key, value: json(2) }),
      );
      fc.assert(
        fc.property(data, change, (generated, edit) => {
          const envelope = signer.seal(unsignedEnvelope(generated));
          const entries = Object.entries(generated);
          let changed: [string, unknown][];
          if (edit.kind === 'add') {
            fc.pre(!Object.prototype.hasOwnProperty.call(generated, edit.key));
            changed = [...entries, [edit.key, edit.value]];
          } else {
            fc.pre(entries.length > 0);
            const index = edit.pick % entries.length;
            if (edit.kind === 'delete') changed = entries.filter((_, i) => i !== index);
            else {
              fc.pre(canonicalJson(edit.value) !== canonicalJson(entries[index][1]));
              changed = entries.map(([key, value], i) => [key, i === index ? edit.value : value]);
            }
          }
          const changedData = Object.fromEntries(changed) as JsonObject;
          expect(faultOf(signer.verify({ ...envelope, data: changedData }))).toBe('data-hash-mismatch');
          const rehashed = { ...envelope, data: changedData, metadata: { ...envelope.metadata, dataHash: dataHashOf(changedData) } };
          expect(faultOf(signer.verify(rehashed))).toBe('bad-signature');
        }),
        { numRuns: alg === 'RS256' ? 60 : 200 },
      );
    });
  });
});

/**
 * An auditor's verification, written from the documented layout only: node:crypto and an RFC 8785
 * implementation, no Proofline code. Version 2 (every new event): the signing input is the
 * canonical JSON (UTF-8) of the envelope whose metadata.signature is reduced to {alg, keyId,
 * purpose}; version 1 (no purpose in the block): the envelope with metadata.signature removed.
 * dataHash is lowercase hex SHA-256 of the canonical JSON of data; the key id is the first 16
 * bytes of SHA-256 over the SPKI DER, in lowercase hex.
 */
function auditorVerifies(candidate: EventEnvelope, key: KeyObject): boolean {
  const plain = JSON.parse(JSON.stringify(candidate)) as { metadata: { signature?: { alg: string; keyId: string; purpose?: string; value: string } } };
  const { alg, keyId, purpose, value } = plain.metadata.signature!;
  if (purpose === undefined) delete plain.metadata.signature;
  else if (purpose === 'proofline.event.v2') plain.metadata.signature = { alg, keyId, purpose } as never;
  else return false;
  const signingInput = Buffer.from(canonicalize(plain)!, 'utf8');
  return cryptoVerify(alg === 'RS256' ? 'sha256' : null, signingInput, key, Buffer.from(value, 'base64'));
}

describe.each(ALGORITHMS)('independent verification of the documented byte layout ($alg)', ({ alg, keyType }) => {
  let publicKey: KeyObject;
  let envelope: EventEnvelope;

  beforeAll(() => {
    const pair = keyType === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
    publicKey = pair.publicKey;
    const privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const signer = new EventSigner(KeyRegistry.open({ keyType, privateKeyPem }));
    envelope = signer.seal(unsignedEnvelope({ name: 'Zoë “quoted” \u2028', amount: 1e21, small: 0.000001, nested: { b: [true, null], a: 'é' } }));
  });

  it('the signature verifies over canonical JSON of the envelope with metadata.signature reduced to {alg, keyId, purpose}', () => {
    expect(envelope.metadata.signature.purpose).toBe('proofline.event.v2');
    expect(auditorVerifies(envelope, publicKey)).toBe(true);
  });

  it('the signed bytes are exactly the documented ones: the signature block minus value, keys sorted', () => {
    const { value, ...block } = envelope.metadata.signature;
    const bytes = canonicalize({ ...envelope, metadata: { ...envelope.metadata, signature: block } })!;
    expect(bytes).toContain(`"signature":{"alg":"${alg}","keyId":"${block.keyId}","purpose":"proofline.event.v2"}`);
    expect(cryptoVerify(alg === 'RS256' ? 'sha256' : null, Buffer.from(bytes, 'utf8'), publicKey, Buffer.from(value, 'base64'))).toBe(true);
  });

  it('the signature verifies with the key from its SPKI PEM alone', () => {
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(auditorVerifies(envelope, createPublicKey(pem))).toBe(true);
  });

  it('the same check refuses a tampered envelope', () => {
    expect(auditorVerifies({ ...envelope, tenantId: 'tenant-2' }, publicKey)).toBe(false);
  });

  it('dataHash is sha256(canonicalize(data)) in lowercase hex', () => {
    expect(envelope.metadata.dataHash).toBe(createHash('sha256').update(canonicalize(envelope.data)!, 'utf8').digest('hex'));
  });

  it('keyId names the key: the first 16 bytes of SHA-256 over the SPKI DER, lowercase hex', () => {
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    expect(envelope.metadata.signature.keyId).toBe(createHash('sha256').update(spki).digest('hex').slice(0, 32));
    expect(envelope.metadata.signature.alg).toBe(alg);
  });
});

/**
 * Version 1 events (stored before keyId, alg and purpose were signed) keep their bytes and
 * signatures and still verify; a signature never crosses from one version to the other; and the
 * alg and keyId of a v2 block are the ones that were signed.
 */
describe.each(ALGORITHMS)('signature versions and the signed key ($alg)', ({ alg, keyType }) => {
  const digest = alg === 'RS256' ? 'sha256' : null;
  let registry: KeyRegistry;
  let signer: EventSigner;

  beforeAll(() => {
    registry = KeyRegistry.open({ keyType });
    signer = new EventSigner(registry);
  });

  /** An event signed as Proofline signed before version 2: over the envelope without metadata.signature. */
  function sealedV1(): EventEnvelope {
    const key = registry.active();
    const unsigned = unsignedEnvelope();
    const hashed = { ...unsigned, metadata: { ...unsigned.metadata, dataHash: dataHashOf(unsigned.data) } };
    const value = cryptoSign(digest, Buffer.from(canonicalize(hashed)!, 'utf8'), key.privateKey!).toString('base64');
    return { ...hashed, metadata: { ...hashed.metadata, signature: { alg: key.alg, keyId: key.keyId, value } } };
  }

  /** A v2 block whose value was computed over bytes stating `stated` instead of the block's own alg/keyId. */
  function signedStating(stated: { alg: string; keyId: string }): EventEnvelope {
    const key = registry.active();
    const sealed = signer.seal(unsignedEnvelope());
    const { value: _value, ...block } = sealed.metadata.signature;
    const bytes = canonicalize({ ...sealed, metadata: { ...sealed.metadata, signature: { ...block, ...stated } } })!;
    const value = cryptoSign(digest, Buffer.from(bytes, 'utf8'), key.privateKey!).toString('base64');
    return { ...sealed, metadata: { ...sealed.metadata, signature: { ...block, value } } };
  }

  it('a stored v1 event still verifies, by EventSigner and by the independent v1 recipe', () => {
    const v1 = sealedV1();
    expect(v1.metadata.signature.purpose).toBeUndefined();
    expect(signer.verify(v1)).toEqual({ valid: true });
    expect(auditorVerifies(v1, registry.active().publicKey)).toBe(true);
  });

  it('a v1 signature replayed as v2 (purpose added to the block) is refused', () => {
    const v1 = sealedV1();
    const replayed = mutated(v1, ['metadata', 'signature'], (old) => ({ ...(old as JsonObject), purpose: 'proofline.event.v2' }));
    expect(faultOf(signer.verify(replayed))).toBe('bad-signature');
    expect(auditorVerifies(replayed, registry.active().publicKey)).toBe(false);
  });

  it('a v2 signature replayed as v1 (purpose removed from the block) is refused', () => {
    const v2 = signer.seal(unsignedEnvelope());
    const replayed = mutated(v2, ['metadata', 'signature'], (old) => {
      const { purpose: _purpose, ...rest } = old as JsonObject;
      return rest;
    });
    expect(faultOf(signer.verify(replayed))).toBe('bad-signature');
    expect(auditorVerifies(replayed, registry.active().publicKey)).toBe(false);
  });

  it('an unknown purpose is refused, not read as either version', () => {
    const v2 = signer.seal(unsignedEnvelope());
    expect(faultOf(signer.verify(mutated(v2, ['metadata', 'signature', 'purpose'], () => 'proofline.event.v3')))).toBe('bad-signature');
  });

  it('a v2 signature whose signed keyId differs from the block\'s is refused, though the key signed it', () => {
    const forged = signedStating({ alg, keyId: 'f'.repeat(32) });
    expect(faultOf(signer.verify(forged))).toBe('bad-signature');
  });

  it('a v2 signature whose signed alg differs from the block\'s is refused, though the key signed it', () => {
    const forged = signedStating({ alg: alg === 'RS256' ? 'EdDSA' : 'RS256', keyId: registry.active().keyId });
    expect(faultOf(signer.verify(forged))).toBe('bad-signature');
  });

  it('swapping the block\'s keyId to another key of the registry is refused: that key did not sign, and the signed keyId differs', () => {
    const v2 = signer.seal(unsignedEnvelope());
    const first = registry.active().keyId;
    registry.rotate(); // later tests of this block sign with the new key, which changes nothing for them
    const swapped = mutated(v2, ['metadata', 'signature', 'keyId'], () => registry.active().keyId);
    expect(registry.active().keyId).not.toBe(first);
    expect(faultOf(signer.verify(swapped))).toBe('bad-signature');
    expect(signer.verify(v2)).toEqual({ valid: true });
  });

  it('swapping the block\'s alg is refused', () => {
    const v2 = signer.seal(unsignedEnvelope());
    expect(faultOf(signer.verify(mutated(v2, ['metadata', 'signature', 'alg'], () => (alg === 'RS256' ? 'EdDSA' : 'RS256'))))).toBe('algorithm-mismatch');
  });
});

/** A different, well-formed signature value of the same length. */
function otherSignature(value: string): string {
  const bytes = Buffer.from(value, 'base64');
  bytes[bytes.length >> 1] ^= 0x01;
  return bytes.toString('base64');
}

function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([key, item]) => [key, reversedKeys(item)]));
}
