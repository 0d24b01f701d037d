import type { KeyObject } from 'node:crypto';
import { keyIdOf } from '../signing/signing-key';
import type { SignedCheckpoint } from './checkpoint';
import { checkpointVerifiesWith } from './checkpoint-signature';
import { isValidConsistency } from './merkle/verify';

export interface CheckpointCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
}

/**
 * Whether a checkpoint verifies with one of the keys the auditor trusts (obtained out of band).
 * Bare keys carry no lifecycle: a checkpoint signed after its key's retirement is not caught here.
 */
export function checkpointSignedBy(checkpoint: SignedCheckpoint, trustedKeys: readonly KeyObject[]): CheckpointCheck {
  const key = trustedKeys.find((candidate) => keyIdOf(candidate) === checkpoint.signature?.keyId);
  const ok = key !== undefined && checkpointVerifiesWith(key, checkpoint);
  return {
    name: `checkpoint of size ${checkpoint.treeSize} signature`,
    ok,
    message: key ? (ok ? `signed by trusted key ${checkpoint.signature.keyId}` : `does not verify with trusted key ${checkpoint.signature.keyId}`) : `key ${checkpoint.signature?.keyId} is not among the trusted keys`,
  };
}

/**
 * The auditor's check that the log did not fork: `today` (a signed head) extends `kept` (a
 * signed head the auditor archived earlier), by the RFC 6962 consistency proof `proof` (hex)
 * from kept.treeSize to today.treeSize. Both heads must be signed by trusted keys and name the
 * same origin — exactly `origin` when the auditor pins it. Runs every check and reports each.
 */
export function verifyExtendsKept(kept: SignedCheckpoint, today: SignedCheckpoint, proof: readonly string[], trustedKeys: readonly KeyObject[], origin?: string): CheckpointCheck[] {
  const checks: CheckpointCheck[] = [checkpointSignedBy(kept, trustedKeys), checkpointSignedBy(today, trustedKeys)];
  const check = (name: string, ok: boolean, message: string) => checks.push({ name, ok, message });
  check('same log', kept.origin === today.origin, `kept ${kept.origin}, today ${today.origin}`);
  if (origin !== undefined) check('origin pinned', today.origin === origin && kept.origin === origin, `expected ${origin}`);
  if (today.treeSize < kept.treeSize) {
    check('extends the kept head', false, `today's head has ${today.treeSize} receipts, fewer than the ${kept.treeSize} you kept: the log was rewound`);
    return checks;
  }
  const consistent = isValidConsistency(kept.treeSize, today.treeSize, hexBytes(kept.rootHash), hexBytes(today.rootHash), proof.map(hexBytes));
  check(
    'extends the kept head',
    consistent,
    consistent
      ? `size ${kept.treeSize} root ${kept.rootHash} is a prefix of size ${today.treeSize} root ${today.rootHash}`
      : `no valid consistency proof from size ${kept.treeSize} root ${kept.rootHash} to size ${today.treeSize} root ${today.rootHash} (${proof.length} hashes): a different history`,
  );
  return checks;
}

function hexBytes(hex: string): Buffer {
  return typeof hex === 'string' && /^(?:[0-9a-f]{2})*$/.test(hex) ? Buffer.from(hex, 'hex') : Buffer.alloc(0);
}
