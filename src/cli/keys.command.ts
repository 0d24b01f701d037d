import type { Command } from 'commander';
import { loadConfig } from '../config/load-config';
import { KeyRegistry } from '../signing/key-registry';

function openRegistry(options: { readOnly: boolean }): KeyRegistry {
  const config = loadConfig();
  return KeyRegistry.open({ dataDir: config.PROOFLINE_DATA_DIR, keyType: config.PROOFLINE_SIGNING_KEY_TYPE, privateKeyPem: config.PROOFLINE_SIGNING_KEY, readOnly: options.readOnly });
}

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('the signing key registry in the data dir');
  keys
    .command('list')
    .description('every key, active and retired')
    .action(() => {
      for (const key of openRegistry({ readOnly: true }).published()) {
        process.stdout.write(`${key.keyId}  ${key.alg.padEnd(5)}  ${key.status.padEnd(7)}  created ${key.createdAt}${key.retiredAt ? `  retired ${key.retiredAt}` : ''}${key.revokedAt ? `  revoked from ${key.revokedAt}` : ''}\n`);
      }
    });
  keys
    .command('rotate')
    .description(
      'make a new key of PROOFLINE_SIGNING_KEY_TYPE active; the old one stays published, but what it signs dated after now is invalid, and its private half moves to keys/retired/ (stop the servers first, start them after)',
    )
    .option('--delete-retired', 'delete the retired private key instead of moving it to keys/retired/')
    .action((options: { deleteRetired?: boolean }) => {
      const config = loadConfig();
      const registry = KeyRegistry.open({ dataDir: config.PROOFLINE_DATA_DIR, keyType: config.PROOFLINE_SIGNING_KEY_TYPE, privateKeyPem: config.PROOFLINE_SIGNING_KEY, retiredPrivateKeys: options.deleteRetired ? 'delete' : 'archive' });
      const key = registry.rotate();
      process.stdout.write(`active key is now ${key.keyId} (${key.alg})\n`);
    });
  keys
    .command('revoke <keyId>')
    .description("a compromised key: everything it signed dated from --from on is invalid and flagged by 'ledger verify'; revoking the active key rotates first")
    .requiredOption('--from <iso-8601>', 'the instant from which its signatures are invalid')
    .action((keyId: string, options: { from: string }) => {
      const from = new Date(options.from);
      if (Number.isNaN(from.getTime())) throw new Error(`--from ${options.from} is not an ISO-8601 instant`);
      const key = openRegistry({ readOnly: false }).revoke(keyId, from);
      process.stdout.write(`key ${key.keyId} is revoked from ${key.revokedAt}\n`);
    });
}
