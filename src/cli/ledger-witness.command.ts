import type { Command } from 'commander';
import { createInfrastructure } from '../app/infrastructure';
import { loadConfig } from '../config/load-config';
import { originOf } from '../ledger/checkpoint';
import type { Ledger } from '../ledger/ledger';
import { witnessCheck } from '../ledger/note/checkpoint-note';
import { formatVerifierKey, SIGNATURE_TYPE, type VerifierKey } from '../ledger/note/signed-note';
import type { WitnessEndpoint } from '../ledger/witness/witness-client';
import { parseWitnessKeys } from './witness.command';

export const WITNESS_HELP = "a witness's verifier key <name>+<key ID>+<base64 key> (from 'proofline witness vkey'); repeatable";

/** `proofline ledger witness` (ask witnesses to cosign) and `proofline ledger vkey` (the log's note verifier key). */
export function registerLedgerWitnessCommands(ledger: Command): void {
  ledger
    .command('witness')
    .description("ask witnesses to cosign the tenant's latest checkpoint (C2SP tlog-witness) and store their cosignatures with it; exit 0 when every witness cosigned, 1 naming each refusal")
    .requiredOption('--tenant <id>', 'the tenant whose latest checkpoint to have cosigned')
    .requiredOption('--witness <vkey=url...>', "a witness: its verifier key, '=', and its URL (e.g. witness.example/w1+1a2b3c4d+BA...=http://witness.example:7380); repeatable")
    .option('--json', 'print the outcome as JSON')
    .action(async (options: { tenant: string; witness: string[]; json?: boolean }) => {
      const endpoints = options.witness.map(parseWitnessEndpoint);
      const infrastructure = await createInfrastructure(loadConfig(), { readOnlyKeys: true });
      try {
        const round = await infrastructure.ledger.witness(options.tenant, endpoints);
        if (options.json) process.stdout.write(JSON.stringify(round, null, 2) + '\n');
        else for (const outcome of round.outcomes) process.stdout.write(`${outcome.ok ? 'ok  ' : 'FAIL'}  ${outcome.witness}: ${outcome.message}\n`);
        process.exitCode = round.outcomes.every((outcome) => outcome.ok) ? 0 : 1;
      } finally {
        await infrastructure.close();
      }
    });

  ledger
    .command('vkey')
    .description("print the verifier key of the tenant's checkpoint notes (<origin>+<key ID>+<base64 key>), for note tooling; Ed25519 signing keys only — give witnesses of an RSA log the PEM")
    .requiredOption('--tenant <id>', 'the tenant (the key name is its origin, <instance>/<tenant>)')
    .action(async (options: { tenant: string }) => {
      const infrastructure = await createInfrastructure(loadConfig(), { readOnlyKeys: true });
      try {
        const key = infrastructure.keys.active();
        if (key.publicKey.asymmetricKeyType !== 'ed25519') throw new Error(`the active signing key ${key.keyId} is ${key.alg}: signed notes have a standard verifier key only for Ed25519; give witnesses the PEM (GET /.well-known/proofline/keys)`);
        process.stdout.write(`${formatVerifierKey(originOf(infrastructure.config.PROOFLINE_INSTANCE_NAME, options.tenant), SIGNATURE_TYPE.ed25519, key.publicKey)}\n`);
      } finally {
        await infrastructure.close();
      }
    });
}

/** `<vkey>=<url>`: the vkey's base64 part (33 bytes) holds no '=', so the first '=' after its second '+' splits. */
function parseWitnessEndpoint(option: string): WitnessEndpoint {
  const second = option.indexOf('+', option.indexOf('+') + 1);
  const split = second < 0 ? -1 : option.indexOf('=', second);
  if (split < 0) throw new Error(`--witness is <vkey>=<url>, not ${option}`);
  const [vkey] = parseWitnessKeys([option.slice(0, split)]);
  const url = option.slice(split + 1);
  if (!/^https?:\/\/\S+$/.test(url)) throw new Error(`--witness ${option}: the URL must start with http:// or https://`);
  return { vkey, url };
}

/**
 * For `ledger verify --witness`: the largest checkpoint cosigned by at least `min` of the given
 * witnesses. verify has checked every checkpoint against the receipts, so the witnesses' word on
 * that head covers the history up to its size.
 */
export async function witnessedHead(ledger: Ledger, tenantId: string, policy: { keys: VerifierKey[]; min: number }): Promise<{ ok: boolean; treeSize?: number; message: string }> {
  const all = [];
  for (let after = 0; ; ) {
    const page = await ledger.checkpoints(tenantId, after);
    if (page.length === 0) break;
    all.push(...page);
    after = page[page.length - 1].treeSize;
  }
  for (const checkpoint of all.reverse()) {
    const check = witnessCheck(checkpoint, policy.keys, policy.min);
    if (check.ok) {
      const newer = all.length > 0 && all[0].treeSize > checkpoint.treeSize ? `; the ${all[0].treeSize - checkpoint.treeSize} receipts after it are not yet witnessed` : '';
      return { ok: true, treeSize: checkpoint.treeSize, message: `the checkpoint of size ${checkpoint.treeSize}: ${check.message}${newer}` };
    }
  }
  return { ok: false, message: `no checkpoint of tenant ${tenantId} carries cosignatures from ${policy.min} of the given witnesses` };
}
