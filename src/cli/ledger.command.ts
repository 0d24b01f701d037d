import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { createInfrastructure } from '../app/infrastructure';
import { loadConfig } from '../config/load-config';
import type { SignedCheckpoint } from '../ledger/checkpoint';
import { verifyExtendsKept, type CheckpointCheck } from '../ledger/kept-checkpoint';
import type { ConsistencyProofView } from '../ledger/ledger';
import { witnessCheck } from '../ledger/note/checkpoint-note';
import { publicKeysFromPem, verifyReceiptDocument, type ReceiptDocument } from '../ledger/receipt-document';
import { registerLedgerWitnessCommands, WITNESS_HELP, witnessedHead } from './ledger-witness.command';
import { witnessPolicy } from './witness.command';

export function registerLedgerCommands(program: Command): void {
  const ledger = program.command('ledger').description('the value-receipt ledger');

  ledger
    .command('verify')
    .description("replay a tenant's receipt chain against the store; exit 0 when it verifies, 1 printing the first bad position")
    .requiredOption('--tenant <id>', 'the tenant whose chain to verify')
    .option('--json', 'print the result as JSON')
    .option('--witness <vkey...>', WITNESS_HELP)
    .option('--min-witnesses <n>', 'how many of the --witness keys must have cosigned (default: all given); verify then also fails when no checkpoint has that many')
    .action(async (options: { tenant: string; json?: boolean; witness?: string[]; minWitnesses?: string }) => {
      const policy = witnessPolicy(options);
      const infrastructure = await createInfrastructure(loadConfig(), { readOnlyKeys: true });
      const bar = new SingleBar({ format: 'verifying {bar} {value}/{total} receipts', stream: process.stderr }, Presets.shades_classic);
      try {
        let started = false;
        const result = await infrastructure.ledger.verify(options.tenant, (checked, total) => {
          if (options.json) return;
          if (!started) bar.start(total, 0);
          started = true;
          bar.update(checked);
        });
        bar.stop();
        const witnessed = policy ? await witnessedHead(infrastructure.ledger, options.tenant, policy) : undefined;
        if (options.json) process.stdout.write(JSON.stringify(witnessed ? { ...result, witnessed } : result, null, 2) + '\n');
        else if (result.ok) process.stdout.write(`OK: ${result.receipts} receipts, ${result.checkpoints} checkpoints verified against ${result.events} events (${result.pendingEvents} not yet receipted)\n`);
        else process.stdout.write(`FAILED at position ${result.fault!.position}: ${result.fault!.kind}${result.fault!.eventId ? ` (event ${result.fault!.eventId})` : ''} — ${result.fault!.message}\n`);
        if (witnessed && !options.json) process.stdout.write(`${witnessed.ok ? 'WITNESSED' : 'NOT WITNESSED'}: ${witnessed.message}\n`);
        process.exitCode = result.ok && (witnessed?.ok ?? true) ? 0 : 1;
      } finally {
        bar.stop();
        await infrastructure.close();
      }
    });

  ledger
    .command('build')
    .description('issue receipts for every event not yet receipted, and the checkpoints that are due (the server does this continuously)')
    .action(async () => {
      const infrastructure = await createInfrastructure(loadConfig());
      try {
        const outcome = await infrastructure.ledgerRunner.buildOnce(); // under the builder lease: refused while a server builds
        process.stdout.write(`${outcome.receipts} receipts and ${outcome.checkpoints} checkpoints issued\n`);
        for (const halt of infrastructure.ledger.builder.takeNewHalts()) process.stderr.write(`${halt.code}: receipts of tenant ${halt.tenantId} stop at ${halt.position}: ${halt.message}\n`);
        for (const refusal of infrastructure.ledger.builder.forkRefusals()) process.stderr.write(`${refusal.message}\n`);
        if (infrastructure.ledger.builder.forkRefusals().length > 0) process.exitCode = 1;
      } finally {
        await infrastructure.close();
      }
    });

  registerLedgerRewindCommand(ledger);
  registerLedgerWitnessCommands(ledger);

  ledger
    .command('consistency')
    .description("an auditor's check that today's signed head extends a checkpoint you kept: exit 0 when it does, 1 naming what failed")
    .requiredOption('--from <checkpoint.json>', 'a signed checkpoint you archived earlier (GET /ledger/:tenant/checkpoint or /checkpoints)')
    .requiredOption('--key <pem...>', 'PEM file(s) of the public key(s) you trust')
    .option('--proof <consistency.json>', 'offline: a saved answer of GET /ledger/:tenant/consistency?from=<kept size>&to=<N> (its toCheckpoint must be signed)')
    .option('--tenant <id>', "online: the tenant, read from this instance's database (the latest checkpoint, and the proof computed from the receipts)")
    .option('--origin <origin>', "pin the log's full origin (<instance>/<tenant>)")
    .option('--witness <vkey...>', WITNESS_HELP)
    .option('--min-witnesses <n>', "how many of the --witness keys must have cosigned today's head (default: all given)")
    .action(async (options: { from: string; key: string[]; proof?: string; tenant?: string; origin?: string; witness?: string[]; minWitnesses?: string }) => {
      const policy = witnessPolicy(options);
      const kept = JSON.parse(readFileSync(options.from, 'utf8')) as SignedCheckpoint;
      const keys = publicKeysFromPem(options.key.map((path) => readFileSync(path, 'utf8')));
      let checks: CheckpointCheck[];
      if (options.proof) {
        const answer = JSON.parse(readFileSync(options.proof, 'utf8')) as ConsistencyProofView;
        checks = answer.toCheckpoint && answer.fromSize === kept.treeSize
          ? verifyExtendsKept(kept, answer.toCheckpoint, answer.hashes, keys, options.origin)
          : [{ name: 'proof file', ok: false, message: `it must be the consistency answer from size ${kept.treeSize} to a size with a signed checkpoint (toCheckpoint)` }];
        if (policy) checks.push(answer.toCheckpoint ? witnessCheck(answer.toCheckpoint, policy.keys, policy.min, keys) : { name: 'witnesses', ok: false, message: 'no signed head to check' });
      } else {
        if (!options.tenant) throw new Error('give --proof FILE (offline) or --tenant ID (online)');
        const infrastructure = await createInfrastructure(loadConfig(), { readOnlyKeys: true });
        try {
          const today = await infrastructure.ledger.checkpoint(options.tenant);
          const proof = today.treeSize >= kept.treeSize ? (await infrastructure.ledger.consistency(options.tenant, kept.treeSize, today.treeSize)).hashes : [];
          checks = verifyExtendsKept(kept, today, proof, keys, options.origin);
          if (policy) checks.push(witnessCheck(today, policy.keys, policy.min, keys));
        } finally {
          await infrastructure.close();
        }
      }
      for (const check of checks) process.stdout.write(`${check.ok ? 'ok  ' : 'FAIL'}  ${check.name}: ${check.message}\n`);
      const ok = checks.every((check) => check.ok);
      process.stdout.write(ok ? "CONSISTENT: today's signed head extends the checkpoint you kept\n" : 'INCONSISTENT\n');
      process.exitCode = ok ? 0 : 1;
    });
}

function registerLedgerRewindCommand(ledger: Command): void {
  ledger
    .command('rewind')
    .description(
      "after restoring the database from a backup ON PURPOSE: accept the tenant's tree the database holds now as the head later checkpoints must extend (the signer refuses anything else with LEDGER.FORK_REFUSED). Run where the data dir holding the signing key is; the head given up is appended to keys/heads/rewinds.jsonl",
    )
    .requiredOption('--tenant <id>', 'the tenant whose log was rewound')
    .requiredOption('--root <hex>', "the database tree's root, as the LEDGER.FORK_REFUSED alert printed it (nothing changes if it differs)")
    .requiredOption('--reason <text>', 'why, for the record (e.g. the backup restored)')
    .action(async (options: { tenant: string; root: string; reason: string }) => {
      const infrastructure = await createInfrastructure(loadConfig(), { readOnlyKeys: true });
      try {
        const { gaveUp, accepted } = await infrastructure.ledger.rewindSigner(options.tenant, options.root, options.reason);
        process.stdout.write(`the signer now extends size ${accepted.treeSize} root ${accepted.rootHash}${gaveUp ? `; it gave up size ${gaveUp.treeSize} root ${gaveUp.rootHash} (kept in keys/heads/rewinds.jsonl)` : ''}\n`);
      } finally {
        await infrastructure.close();
      }
    });
}

export function registerVerifyReceiptCommand(program: Command): void {
  program
    .command('verify-receipt <file>')
    .description('check a receipt document (GET /ledger/:tenant/receipts/:seq) offline: no database, no network')
    .requiredOption('--key <pem...>', 'PEM file(s) of the public key(s) or certificate(s) you trust')
    .option('--since <checkpoint.json>', "a signed checkpoint you kept: the document's checkpoint must extend it (fetch the document with ?since=<its size>)")
    .option('--origin <origin>', "pin the log's full origin (<instance>/<tenant>); without it only the tenant suffix is checked")
    .option('--witness <vkey...>', WITNESS_HELP)
    .option('--min-witnesses <n>', "how many of the --witness keys must have cosigned the document's checkpoint (default: all given)")
    .action((file: string, options: { key: string[]; since?: string; origin?: string; witness?: string[]; minWitnesses?: string }) => {
      const policy = witnessPolicy(options);
      const document = JSON.parse(readFileSync(file, 'utf8')) as ReceiptDocument;
      const since = options.since ? (JSON.parse(readFileSync(options.since, 'utf8')) as SignedCheckpoint) : undefined;
      const keys = publicKeysFromPem(options.key.map((path) => readFileSync(path, 'utf8')));
      const result = verifyReceiptDocument(document, keys, { since, origin: options.origin });
      const checks = policy ? [...result.checks, witnessCheck(document.checkpoint, policy.keys, policy.min, keys)] : result.checks;
      const valid = checks.every((check) => check.ok);
      for (const check of checks) process.stdout.write(`${check.ok ? 'ok  ' : 'FAIL'}  ${check.name}: ${check.message}\n`);
      process.stdout.write(valid ? 'VALID: the receipt is in the signed ledger and names this event\n' : 'INVALID\n');
      process.exitCode = valid ? 0 : 1;
    });
}
