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
      for (const key of openRegistry({ readOnly: true }).published()) process.stdout.write(`${key.keyId}  ${key.alg.padEnd(5)}  ${key.status.padEnd(7)}  created ${key.createdAt}${key.retiredAt ? `  retired ${key.retiredAt}` : ''}\n`);
    });
  keys
    .command('rotate')
    .description('make a new key of PROOFLINE_SIGNING_KEY_TYPE active; the old one stays published for verification (restart servers to use it)')
    .action(() => {
      const key = openRegistry({ readOnly: false }).rotate();
      process.stdout.write(`active key is now ${key.keyId} (${key.alg})\n`);
    });
}
