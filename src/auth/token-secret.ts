import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * The HMAC key of access and refresh tokens: from PROOFLINE_TOKEN_SECRET, or generated on first
 * boot into `<dataDir>/auth/token-secret` (mode 0600) and read back on later starts. Several
 * instances must share one (set the variable). Without a data dir (tests) it lives in memory.
 */
export function loadTokenSecret(configured: string | undefined, dataDir: string | undefined): Uint8Array {
  if (configured) return new TextEncoder().encode(configured);
  if (!dataDir) return randomBytes(48);
  const file = join(dataDir, 'auth', 'token-secret');
  if (!existsSync(file)) {
    mkdirSync(join(dataDir, 'auth'), { recursive: true, mode: 0o700 });
    // 'wx': two processes starting at once cannot both write a secret; the loser reads the winner's.
    try {
      writeFileSync(file, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    chmodSync(file, 0o600);
  }
  return new TextEncoder().encode(readFileSync(file, 'utf8').trim());
}
