import { randomUUID } from 'node:crypto';
import type { RefreshFamily, RotateOutcome, TokenFamilyStore } from '../../src/auth/state/token-family-store';
import { sleep } from './helpers';

export interface OpenedTokenFamilyStore {
  readonly store: TokenFamilyStore;
  close(): Promise<void>;
}

const HOUR = 3_600_000;

/**
 * The behaviour every TokenFamilyStore adapter must have, tested only through the port. The suite
 * shares one store between its tests; each test works on families of its own.
 */
export function tokenFamilyStoreConformance(name: string, open: () => Promise<OpenedTokenFamilyStore>): void {
  describe(`TokenFamilyStore conformance: ${name}`, () => {
    let opened: OpenedTokenFamilyStore | undefined;
    let store: TokenFamilyStore;

    beforeAll(async () => {
      opened = await open();
      store = opened.store;
    });

    afterAll(async () => {
      await opened?.close();
    });

    const tokenId = () => `token-${randomUUID()}`;
    const newFamily = async (expiresAt = Date.now() + HOUR): Promise<RefreshFamily> => {
      const family: RefreshFamily = {
        familyId: `family-${randomUUID()}`,
        userId: `user-${randomUUID()}`,
        tenantId: `tenant-${randomUUID()}`,
        currentTokenId: tokenId(),
        expiresAt,
      };
      await store.create(family);
      return family;
    };
    const kinds = (outcomes: readonly RotateOutcome[]) => outcomes.map((outcome) => outcome.kind).sort();

    it('given a new family, it is active, and each rotation with the current id moves current on', async () => {
      const family = await newFamily();
      const second = tokenId();
      const third = tokenId();

      const first = await store.rotate(family.familyId, family.currentTokenId, second);
      const next = await store.rotate(family.familyId, second, third);

      expect(await store.isActive(family.familyId)).toBe(true);
      expect(first).toEqual({ kind: 'rotated', family: { ...family, currentTokenId: second } });
      expect(next).toEqual({ kind: 'rotated', family: { ...family, currentTokenId: third } });
      expect(await store.isActive(family.familyId)).toBe(true);
    });

    it('given an older id presented again, it answers reused with the family and revokes it, so later rotations answer revoked', async () => {
      const family = await newFamily();
      const second = tokenId();
      await store.rotate(family.familyId, family.currentTokenId, second);

      const replay = await store.rotate(family.familyId, family.currentTokenId, tokenId());

      expect(replay).toEqual({ kind: 'reused', family: { ...family, currentTokenId: second } });
      expect(await store.isActive(family.familyId)).toBe(false);
      expect(await store.rotate(family.familyId, second, tokenId())).toEqual({ kind: 'revoked' });
      expect(await store.revoke(family.familyId)).toBe(false);
    });

    it('given two concurrent rotations with the same id, exactly one is rotated and the other reused', async () => {
      const family = await newFamily();

      const outcomes = await Promise.all([
        store.rotate(family.familyId, family.currentTokenId, tokenId()),
        store.rotate(family.familyId, family.currentTokenId, tokenId()),
      ]);

      expect(kinds(outcomes)).toEqual(['reused', 'rotated']);
      expect(await store.isActive(family.familyId)).toBe(false);
    });

    it('given ten concurrent rotations with the same id, one is rotated, one reused and the rest find the family revoked', async () => {
      const family = await newFamily();

      const outcomes = await Promise.all(Array.from({ length: 10 }, () => store.rotate(family.familyId, family.currentTokenId, tokenId())));

      expect(kinds(outcomes)).toEqual(['reused', 'revoked', 'revoked', 'revoked', 'revoked', 'revoked', 'revoked', 'revoked', 'revoked', 'rotated']);
    });

    it('revoke ends the family: true the first time, false after, and the current id no longer rotates', async () => {
      const family = await newFamily();

      expect(await store.revoke(family.familyId)).toBe(true);
      expect(await store.revoke(family.familyId)).toBe(false);
      expect(await store.isActive(family.familyId)).toBe(false);
      expect(await store.rotate(family.familyId, family.currentTokenId, tokenId())).toEqual({ kind: 'revoked' });
    });

    it('given a family that never existed, it is unknown, inactive and cannot be revoked', async () => {
      const familyId = `family-${randomUUID()}`;

      expect(await store.rotate(familyId, tokenId(), tokenId())).toEqual({ kind: 'unknown' });
      expect(await store.isActive(familyId)).toBe(false);
      expect(await store.revoke(familyId)).toBe(false);
    });

    it('keeps families apart', async () => {
      const kept = await newFamily();
      const revoked = await newFamily();

      await store.revoke(revoked.familyId);

      expect(await store.isActive(kept.familyId)).toBe(true);
      expect((await store.rotate(kept.familyId, kept.currentTokenId, tokenId())).kind).toBe('rotated');
    });

    it('is active until just before expiresAt, and unknown from then on', async () => {
      const family = await newFamily(Date.now() + HOUR);

      expect(await store.isActive(family.familyId, family.expiresAt - 1)).toBe(true);
      expect(await store.isActive(family.familyId, family.expiresAt)).toBe(false);
      expect(await store.rotate(family.familyId, family.currentTokenId, tokenId(), family.expiresAt)).toEqual({ kind: 'unknown' });
    });

    it('forgets a family, tombstone included, once expiresAt has passed on the clock', async () => {
      const active = await newFamily(Date.now() + 300);
      const tombstone = await newFamily(Date.now() + 300);
      await store.revoke(tombstone.familyId);
      expect(await store.rotate(tombstone.familyId, tombstone.currentTokenId, tokenId())).toEqual({ kind: 'revoked' });

      await sleep(600);

      expect(await store.isActive(active.familyId)).toBe(false);
      expect(await store.rotate(active.familyId, active.currentTokenId, tokenId())).toEqual({ kind: 'unknown' });
      expect(await store.rotate(tombstone.familyId, tombstone.currentTokenId, tokenId())).toEqual({ kind: 'unknown' });
      expect(await store.revoke(active.familyId)).toBe(false);
    });
  });
}
