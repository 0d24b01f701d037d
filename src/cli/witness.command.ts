import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseVerifierKey, SIGNATURE_TYPE, type VerifierKey } from '../ledger/note/signed-note';
import { Witness, type TrustedLog } from '../ledger/witness/witness';
import { listen, witnessServer } from '../ledger/witness/witness-server';

/**
 * `proofline witness`: an independent witness process (C2SP tlog-witness). It needs no Proofline
 * configuration, database or signing key — only its own directory and the logs' public keys.
 */
export function registerWitnessCommands(program: Command): void {
  const witness = program.command('witness').description('run a transparency-log witness that cosigns Proofline checkpoints only when they extend what it cosigned before');

  witness
    .command('init')
    .description('create a witness directory: a new Ed25519 key (mode 0600) and its name; prints its verifier key (give it to verifiers as --witness)')
    .requiredOption('--dir <path>', 'the directory for the key and the per-log state (keep it away from the Proofline host)')
    .requiredOption('--name <name>', 'the witness name, a schema-less URL such as witness.example.com/w1')
    .action((options: { dir: string; name: string }) => {
      process.stdout.write(`${Witness.init(options.dir, options.name)}\n`);
    });

  witness
    .command('vkey')
    .description("print the witness's verifier key <name>+<key ID>+<base64 key>")
    .requiredOption('--dir <path>', 'the witness directory')
    .action((options: { dir: string }) => {
      const opened = Witness.open(options.dir, []);
      process.stdout.write(`${opened.vkey()}\n`);
    });

  witness
    .command('serve')
    .description('serve POST /add-checkpoint (and GET /<origin hash>/checkpoint for monitors) until stopped')
    .requiredOption('--dir <path>', 'the witness directory (made by witness init)')
    .requiredOption(
      '--log <origin=pem...>',
      "a log this witness cosigns: its origin (or a prefix ending in '*', e.g. 'proofline/*' for every tenant of an instance) and a PEM file of its public key (from /.well-known/proofline/keys)",
    )
    .option('--port <n>', 'port', '7380')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .action(async (options: { dir: string; log: string[]; port: string; host: string }) => {
      const logs = options.log.map(parseLogOption);
      const opened = Witness.open(options.dir, logs, { lock: true });
      const server = witnessServer(opened);
      const address = await listen(server, Number(options.port), options.host);
      process.stdout.write(`witness ${opened.vkey()} listening on http://${address.address}:${address.port}\n`);
      const stop = () => {
        server.close(() => {
          opened.close();
          process.exit(0);
        });
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}

function parseLogOption(option: string): TrustedLog {
  // Origins hold no '=' (instance names and tenant ids do not); a file path may.
  const split = option.indexOf('=');
  if (split <= 0) throw new Error(`--log is <origin>=<public key PEM file>, not ${option}`);
  const origin = option.slice(0, split);
  return { origin, keys: [createPublicKey(readFileSync(option.slice(split + 1), 'utf8'))] };
}

/** `--witness <vkey>` values of verifiers: type 0x04 (cosignature/v1) verifier keys. */
export function parseWitnessKeys(vkeys: readonly string[]): VerifierKey[] {
  return vkeys.map((vkey) => {
    const key = parseVerifierKey(vkey);
    if (key.type !== SIGNATURE_TYPE.cosignatureV1) throw new Error(`--witness ${vkey}: a witness key has type 0x04 (Ed25519 cosignature/v1), this one 0x0${key.type}`);
    return key;
  });
}

/** The witness policy of a verifier command: the given witness keys and how many must have cosigned (default: all of them). */
export function witnessPolicy(options: { witness?: string[]; minWitnesses?: string }): { keys: VerifierKey[]; min: number } | undefined {
  const keys = parseWitnessKeys(options.witness ?? []);
  if (options.minWitnesses === undefined) return keys.length > 0 ? { keys, min: keys.length } : undefined;
  const min = Number(options.minWitnesses);
  if (!Number.isSafeInteger(min) || min < 1) throw new Error(`--min-witnesses must be a whole number of at least 1, not ${options.minWitnesses}`);
  const distinct = new Set(keys.map((key) => `${key.name}+${key.keyId.toString('hex')}`)).size;
  if (min > distinct) throw new Error(`--min-witnesses ${min} needs at least ${min} different --witness keys (${distinct} given)`);
  return { keys, min };
}
