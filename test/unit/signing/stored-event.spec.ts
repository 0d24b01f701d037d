import { canonicalJson, type EventEnvelope } from '../../../contracts';
import { decodeSignatureValue } from '../../../src/signing/detached-signature';
import { EventSigner } from '../../../src/signing/event-signer';
import { KeyRegistry } from '../../../src/signing/key-registry';
import { relayFaultOf } from '../../../src/fanout/relay-halts';
import { misfiledFault, requireOneByteString, storedBytesFault } from '../../../src/signing/stored-event';

const keys = KeyRegistry.open({ keyType: 'ed25519' });
const signer = new EventSigner(keys);

function signed(data = { amount: 100 }): EventEnvelope {
  return signer.seal({
    id: '0190a5b4-7c1e-7d3a-9f00-0123456789ab',
    type: 'things.thing-happened',
    schemaVersion: 1,
    streamId: 'things-1',
    tenantId: 'tenant-1',
    occurredAt: '2026-12-04T18:00:00.000Z',
    actor: { id: 'user-1', role: 'ADMIN' },
    data,
    metadata: { correlationId: 'c', causationId: 'c', commandId: 'c' },
  });
}

const recorded = (envelope: EventEnvelope, raw = canonicalJson(envelope)) => ({
  envelope: JSON.parse(raw) as EventEnvelope,
  raw,
  position: { commit: 7n, prepare: 3n },
  storedAs: { eventId: envelope.id, streamId: envelope.streamId, tenantId: envelope.tenantId },
  streamVersion: 1,
});

describe('one byte string per event (the check the builder, ledger verify, events verify and the relay share)', () => {
  it('given the canonical bytes of a signed envelope, then there is no fault and the relay may publish', () => {
    const event = recorded(signed());
    expect(storedBytesFault(event)).toBeUndefined();
    expect(() => requireOneByteString(event)).not.toThrow();
    expect(signer.verifyStored({ ...event, streamVersion: 1 })).toEqual({ valid: true });
  });

  it('given a duplicate key, white space or another key order, then the bytes are not canonical: not receipted, not published', () => {
    const envelope = signed();
    const canonical = canonicalJson(envelope);
    for (const raw of [canonical.replace('"amount":100', '"amount":999999,"amount":100'), JSON.stringify(envelope, null, 1), JSON.stringify(envelope)]) {
      if (raw === canonical) continue;
      const event = recorded(envelope, raw);
      expect(storedBytesFault(event)).toMatchObject({ fault: 'not-canonical' });
      expect(() => requireOneByteString(event)).toThrow(expect.objectContaining({ code: 'EVENT.NOT_CANONICAL', details: expect.objectContaining({ position: '7/3' }) }));
      expect(signer.verifyStored(event)).toMatchObject({ valid: false, fault: 'not-canonical' });
    }
  });

  it('given an extra field in the signature block or envelope, then the envelope schema refuses it even in canonical bytes', () => {
    const envelope = signed();
    const extra = { ...envelope, metadata: { ...envelope.metadata, signature: { ...envelope.metadata.signature, note: 'x' } } } as unknown as EventEnvelope;
    expect(storedBytesFault(recorded(extra))).toMatchObject({ fault: 'malformed' });
    expect(storedBytesFault(recorded({ ...envelope, extra: 1 } as unknown as EventEnvelope))).toMatchObject({ fault: 'malformed' });
  });

  it('decodes a signature value only in strict padded base64 that re-encodes to itself', () => {
    const value = Buffer.from([0xfb, 0xff, 0xbf, 1, 2]).toString('base64'); // '+/+/AQI=' alphabet
    expect(decodeSignatureValue(value)).toEqual(Buffer.from([0xfb, 0xff, 0xbf, 1, 2]));
    for (const variant of [value.replace(/=+$/, ''), `${value}!!`, value.replace(/\+/g, '-').replace(/\//g, '_'), ` ${value}`, `${value.slice(0, 4)}\n${value.slice(4)}`, 'AQI=AQI=', 'AR==', '']) {
      expect(decodeSignatureValue(variant)).toBeUndefined();
    }
  });
});

describe('a row filed under another stream or tenant than its envelope names', () => {
  it('given row and envelope that agree, then it is not misfiled and the relay may publish it', () => {
    expect(misfiledFault(recorded(signed()))).toBeUndefined();
    expect(relayFaultOf(recorded(signed()))).toBeUndefined();
  });

  it.each([
    ['another tenant', { tenantId: 'tenant-2' }],
    ['another stream', { streamId: 'things-2' }],
    ['another event id', { eventId: '0190a5b4-7c1e-7d3a-9f00-0123456789ac' }],
  ])('given a row of %s, then it is misfiled: the relay halts the tenant it is filed under with EVENT.MISFILED and publishes nothing of it', (_what, filedAs) => {
    const event = recorded(signed());
    const misfiled = { ...event, storedAs: { ...event.storedAs, ...filedAs } };

    expect(misfiledFault(misfiled)).toContain('is stored as event');
    expect(relayFaultOf(misfiled)).toMatchObject({ code: 'EVENT.MISFILED', tenantId: misfiled.storedAs.tenantId, eventId: misfiled.storedAs.eventId, streamId: misfiled.storedAs.streamId });
  });

  it('given a row that is both misfiled and not canonical, then the bytes are named first (EVENT.NOT_CANONICAL)', () => {
    const envelope = signed();
    const event = recorded(envelope, canonicalJson(envelope).replace('"amount":100', '"amount":999999,"amount":100'));
    expect(relayFaultOf({ ...event, storedAs: { ...event.storedAs, tenantId: 'tenant-2' } })).toMatchObject({ code: 'EVENT.NOT_CANONICAL' });
  });
});
