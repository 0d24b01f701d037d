import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInfrastructure, type Infrastructure } from '../../src/app/infrastructure';
import { streamIdFor } from '../../src/commands/stream-id';
import { loadConfig } from '../../src/config/load-config';
import type { SignedCheckpoint } from '../../src/ledger/checkpoint';
import { noteTextOf } from '../../src/ledger/note/checkpoint-note';
import { signLogNote } from '../../src/ledger/note/log-note';
import { formatNote, parseVerifierKey, SIGNATURE_LINE_PREFIX } from '../../src/ledger/note/signed-note';
import { workspaceDecider } from '../../src/workspaces/workspace.decider';
import { proofline } from '../support/cli';
import { fixedCommandContext } from '../support/command-context';

/**
 * Issue 23, item 3 through the real CLI: `proofline witness init|vkey|serve` as processes of their
 * own, `proofline ledger witness` asking them over HTTP, and the verifiers' `--witness` /
 * `--min-witnesses`. Then the by-hand recipes of docs/ledger.md, run line by line against the
 * real output.
 */

const CLI_ENV = { PROOFLINE_SIGNING_KEY_TYPE: 'ed25519' };
const CLI = join(__dirname, '../../src/cli/main.ts');
const tenantId = '00000000-0000-7000-8000-00000000e17e';

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
}

/** `proofline witness serve` as a child process; resolves with its URL once it listens. */
function serveWitness(dir: string, logs: readonly string[]): Promise<Served> {
  const args = ['-r', 'ts-node/register/transpile-only', CLI, 'witness', 'serve', '--dir', dir, '--port', '0', ...logs.flatMap((log) => ['--log', log])];
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH, NODE_OPTIONS: '--no-warnings' }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const listening = / listening on (http:\/\/\S+)/.exec(out);
      if (listening) resolve({ child, url: listening[1] });
    });
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`witness serve exited (${code}) before listening: ${out}${err}`)));
  });
}

/** Stops a witness process this test started, by its own pid, and waits for it to exit. */
async function stopWitness(served: Served): Promise<number | null> {
  if (served.child.exitCode !== null) return served.child.exitCode;
  const exited = new Promise<number | null>((resolve) => served.child.once('exit', (code) => resolve(code)));
  served.child.kill('SIGTERM');
  return exited;
}

/**
 * The first ```bash block after `heading` in docs/ledger.md, without the lines that fetch its
 * inputs over HTTP (the test writes them); with `fromStep1`, only its lines from `# 1.` on.
 * With `ed25519`, each `openssl dgst` line is replaced by the "Ed25519 keys:" variant the recipe
 * gives right after it.
 */
function recipe(heading: string, options: { fromStep1?: boolean; ed25519?: boolean } = {}): string {
  const doc = readFileSync(join(__dirname, '../../docs/ledger.md'), 'utf8');
  const at = doc.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`docs/ledger.md has no section ${heading}`);
  const block = /```bash\n([\s\S]*?)```/.exec(doc.slice(at));
  if (!block) throw new Error(`no bash block after ${heading}`);
  let lines = block[1].split('\n');
  if (options.fromStep1) lines = lines.slice(lines.findIndex((line) => line.startsWith('# 1.')));
  if (options.ed25519) {
    lines = lines.flatMap((line, i) => {
      if (!line.startsWith('openssl dgst ')) return [line];
      const variant = /^#\s+Ed25519 keys: (openssl pkeyutl .*)$/.exec(lines[i + 1] ?? '');
      if (!variant) throw new Error(`no Ed25519 variant after: ${line}`);
      return [variant[1]];
    });
  }
  return lines.filter((line) => !/^(curl |W=)/.test(line)).join('\n');
}

function runRecipe(script: string, cwd: string, env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  // --norc: bash reads ~/.bashrc even non-interactively when it guesses a remote shell; the recipe runs as written, nothing else.
  const result = spawnSync('bash', ['--norc', '--noprofile', '-e', '-o', 'pipefail', '-c', script], { cwd, env: { PATH: process.env.PATH, LC_ALL: 'C.UTF-8', ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const hasTools = ['openssl', 'jq', 'xxd', 'base64', 'sha256sum'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);

describe('witnesses through the CLI (embedded data dir)', () => {
  let dataDir: string;
  let keyPath: string;
  let origin: string;
  let first: SignedCheckpoint;
  const witnessDirs: string[] = [];
  const vkeys: string[] = [];
  const served: Served[] = [];

  const withInfrastructure = async <T>(use: (infrastructure: Infrastructure) => Promise<T>): Promise<T> => {
    const infrastructure = await createInfrastructure(loadConfig({ PROOFLINE_DATA_DIR: dataDir, ...CLI_ENV }));
    try {
      return await use(infrastructure);
    } finally {
      await infrastructure.close();
    }
  };
  const writeJson = (name: string, value: unknown) => {
    const path = join(dataDir, name);
    writeFileSync(path, JSON.stringify(value, null, 2));
    return path;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'proofline-witness-cli-'));
    first = await withInfrastructure(async (infrastructure) => {
      const streamId = streamIdFor('workspace', tenantId);
      const context = (n: number) => fixedCommandContext(tenantId, n);
      await infrastructure.pipeline.handle(workspaceDecider, { streamId, command: { type: 'RegisterWorkspace', workspaceId: tenantId, name: 'Witnessed', planTier: 'FREE', owner: { userId: 'owner-1', email: 'owner@example.test', role: 'CUSTOMER_ADMIN' } }, context: context(1) });
      for (const [n, name] of ['Second', 'Third'].entries()) await infrastructure.pipeline.handle(workspaceDecider, { streamId, command: { type: 'RenameWorkspace', name }, context: context(n + 2) });
      await infrastructure.ledger.builder.catchUp();
      const issued = (await infrastructure.ledger.builder.checkpointNow(tenantId))!;
      await infrastructure.ledger.builder.catchUp();
      keyPath = join(dataDir, 'proofline-public.pem');
      writeFileSync(keyPath, infrastructure.keys.published()[0].publicKeyPem);
      return issued;
    });
    origin = first.origin;
    for (const name of ['witness.example/w1', 'witness.example/w2']) {
      const dir = mkdtempSync(join(tmpdir(), 'proofline-witness-dir-'));
      rmSync(dir, { recursive: true });
      witnessDirs.push(dir);
      const init = await proofline(dataDir, {}, 'witness', 'init', '--dir', dir, '--name', name);
      expect(init).toMatchObject({ code: 0 });
      vkeys.push(init.stdout.trim());
    }
    // w1 follows exactly this log; w2 every tenant of the instance.
    served.push(await serveWitness(witnessDirs[0], [`${origin}=${keyPath}`]));
    served.push(await serveWitness(witnessDirs[1], [`${origin.split('/')[0]}/*=${keyPath}`]));
  }, 180_000);
  afterAll(async () => {
    for (const witness of served) await stopWitness(witness);
    for (const dir of [dataDir, ...witnessDirs]) rmSync(dir, { recursive: true, force: true });
  });

  const witnessArgs = () => ['--witness', vkeys[0], '--witness', vkeys[1], '--min-witnesses', '2'];

  it('witness init prints a cosignature/v1 verifier key that witness vkey prints again, and refuses to overwrite the key', async () => {
    expect(parseVerifierKey(vkeys[0])).toMatchObject({ name: 'witness.example/w1', type: 0x04 });
    const again = await proofline(dataDir, {}, 'witness', 'vkey', '--dir', witnessDirs[0]);
    expect(again.stdout.trim()).toBe(vkeys[0]);
    const twice = await proofline(dataDir, {}, 'witness', 'init', '--dir', witnessDirs[0], '--name', 'witness.example/w1');
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toContain('already holds a witness');
  }, 60_000);

  it('ledger vkey prints the note verifier key of the tenant, whose key ID is the one on the log line of its notes', async () => {
    const result = await proofline(dataDir, CLI_ENV, 'ledger', 'vkey', '--tenant', tenantId);
    expect(result.code).toBe(0);
    const vkey = parseVerifierKey(result.stdout.trim());
    expect(vkey).toMatchObject({ name: origin, type: 0x01 });
    const logLine = first.note!.split('\n').find((line) => line.startsWith(`${SIGNATURE_LINE_PREFIX}${origin} `))!;
    expect(Buffer.from(logLine.split(' ').pop()!, 'base64').subarray(0, 4)).toEqual(vkey.keyId);
  }, 60_000);

  it('with one witness cosigned, verifiers requiring two fail naming why; with both, they pass', async () => {
    const one = await proofline(dataDir, CLI_ENV, 'ledger', 'witness', '--tenant', tenantId, '--witness', `${vkeys[0]}=${served[0].url}`);
    expect(one.stdout).toContain(`ok    witness.example/w1: cosigned size ${first.treeSize} (from size 0)`);
    expect(one.code).toBe(0);

    const documentPath = writeJson('receipt-one.json', await withInfrastructure((i) => i.ledger.receiptDocument(tenantId, 1)));
    const keptPath = writeJson('kept.json', first);

    const verify = await proofline(dataDir, CLI_ENV, 'ledger', 'verify', '--tenant', tenantId, ...witnessArgs());
    expect(verify.stdout).toContain('OK: ');
    expect(verify.stdout).toContain(`NOT WITNESSED: no checkpoint of tenant ${tenantId} carries cosignatures from 2 of the given witnesses`);
    expect(verify.code).toBe(1);
    const verifyOne = await proofline(dataDir, CLI_ENV, 'ledger', 'verify', '--tenant', tenantId, '--witness', vkeys[0], '--witness', vkeys[1], '--min-witnesses', '1');
    expect(verifyOne.stdout).toContain(`WITNESSED: the checkpoint of size ${first.treeSize}: 1 of the 2 given witnesses cosigned it (witness.example/w1 at `);
    expect(verifyOne.code).toBe(0);

    const receipt = await proofline(dataDir, CLI_ENV, 'verify-receipt', documentPath, '--key', keyPath, ...witnessArgs());
    expect(receipt.stdout).toMatch(new RegExp(`FAIL {2}witnesses of the checkpoint of size ${first.treeSize}: 1 of the 2 given witnesses cosigned it \\(witness.example/w1 at [^)]+\\); 2 required`));
    expect(receipt.stdout).toContain('INVALID');
    expect(receipt.code).toBe(1);
    const consistency = await proofline(dataDir, CLI_ENV, 'ledger', 'consistency', '--tenant', tenantId, '--from', keptPath, '--key', keyPath, ...witnessArgs());
    expect(consistency.stdout).toContain('1 of the 2 given witnesses cosigned it');
    expect(consistency.stdout).toContain('INCONSISTENT');
    expect(consistency.code).toBe(1);

    const two = await proofline(dataDir, CLI_ENV, 'ledger', 'witness', '--tenant', tenantId, '--witness', `${vkeys[0]}=${served[0].url}`, '--witness', `${vkeys[1]}=${served[1].url}`, '--json');
    expect(JSON.parse(two.stdout)).toMatchObject({ treeSize: first.treeSize, outcomes: [{ witness: 'witness.example/w1', ok: true }, { witness: 'witness.example/w2', ok: true }] });
    expect(two.code).toBe(0);

    const documentTwo = writeJson('receipt-two.json', await withInfrastructure((i) => i.ledger.receiptDocument(tenantId, 1)));
    const verifyTwo = await proofline(dataDir, CLI_ENV, 'ledger', 'verify', '--tenant', tenantId, ...witnessArgs());
    expect(verifyTwo.stdout).toContain(`WITNESSED: the checkpoint of size ${first.treeSize}: 2 of the 2 given witnesses cosigned it`);
    expect(verifyTwo.code).toBe(0);
    const receiptTwo = await proofline(dataDir, CLI_ENV, 'verify-receipt', documentTwo, '--key', keyPath, ...witnessArgs());
    expect(receiptTwo.stdout).toContain('VALID');
    expect(receiptTwo.code).toBe(0);
    const consistencyTwo = await proofline(dataDir, CLI_ENV, 'ledger', 'consistency', '--tenant', tenantId, '--from', keptPath, '--key', keyPath, ...witnessArgs());
    expect(consistencyTwo.stdout).toContain('CONSISTENT');
    expect(consistencyTwo.code).toBe(0);

    // A cosignature line of a required witness that does not verify fails, even with enough others.
    const document = JSON.parse(readFileSync(documentTwo, 'utf8')) as { checkpoint: SignedCheckpoint };
    const forgedNote = document.checkpoint.note!.replace(/(\u2014 witness\.example\/w2 )(\S{20})(\S)/, (_m, prefix: string, head: string, c: string) => `${prefix}${head}${c === 'A' ? 'B' : 'A'}`);
    expect(forgedNote).not.toBe(document.checkpoint.note);
    const forged = writeJson('receipt-forged.json', { ...document, checkpoint: { ...document.checkpoint, note: forgedNote } });
    const bad = await proofline(dataDir, CLI_ENV, 'verify-receipt', forged, '--key', keyPath, '--witness', vkeys[0], '--witness', vkeys[1], '--min-witnesses', '1');
    expect(bad.stdout).toContain('the cosignature line of witness witness.example/w2+');
    expect(bad.code).toBe(1);
  }, 420_000);

  it('given the witness process restarted, then it still holds the head it cosigned and refuses a fork of it signed with the real key', async () => {
    const exit = await stopWitness(served[0]);
    expect(exit).toBe(0);
    served[0] = await serveWitness(witnessDirs[0], [`${origin}=${keyPath}`]);
    const monitored = await fetch(`${served[0].url}/${createHash('sha256').update(origin).digest('hex')}/checkpoint`);
    expect(monitored.status).toBe(200);
    expect(await monitored.text()).toContain(noteTextOf(first));

    // The fork: the same size, another root, signed with the log's real key (as a signer that lost its kept heads would).
    const fork = { ...first, rootHash: createHash('sha256').update('mallory').digest('hex') };
    const note = await withInfrastructure(async (infrastructure) => {
      const key = infrastructure.keys.active();
      return formatNote(noteTextOf(fork), [`${SIGNATURE_LINE_PREFIX}${origin} ${signLogNote(noteTextOf(fork), origin, key.privateKey, key.publicKey)}\n`]);
    });
    const refused = await fetch(`${served[0].url}/add-checkpoint`, { method: 'POST', body: `old ${first.treeSize}\n\n${note}` });
    expect(refused.status).toBe(409); // tlog-witness: the size it holds with another root
    expect(refused.headers.get('content-type')).toBe('text/x.tlog.size');
    expect(await refused.text()).toBe(`${first.treeSize}\n`);
    const fromZero = await fetch(`${served[0].url}/add-checkpoint`, { method: 'POST', body: `old 0\n\n${note}` });
    expect(fromZero.status).toBe(409);
    expect(await fromZero.text()).toBe(`${first.treeSize}\n`);

    // The honest head is still cosigned by the restarted witness (the same key, the same head).
    const again = await proofline(dataDir, CLI_ENV, 'ledger', 'witness', '--tenant', tenantId, '--witness', `${vkeys[0]}=${served[0].url}`);
    expect(again.stdout).toContain(`ok    witness.example/w1: cosigned size ${first.treeSize} (from size ${first.treeSize})`);
    expect(again.code).toBe(0);
  }, 180_000);

  (hasTools ? describe : describe.skip)('the by-hand recipes of docs/ledger.md, run against real output', () => {
    it('"Checking a witness cosignature by hand" verifies each witness line and the log line, and fails on a changed note', async () => {
      const checkpoint = await withInfrastructure((i) => i.ledger.checkpoint(tenantId));
      const work = mkdtempSync(join(tmpdir(), 'proofline-recipe-'));
      try {
        writeFileSync(join(work, 'checkpoint.json'), JSON.stringify(checkpoint));
        writeFileSync(join(work, 'pub.pem'), readFileSync(keyPath));
        for (const vkey of vkeys) {
          const run = runRecipe(recipe('### Checking a witness cosignature by hand'), work, { W: vkey });
          expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
          const lines = run.stdout.trim().split('\n');
          expect(lines.slice(0, 3)).toEqual(lines.slice(3, 6));
          expect(lines.slice(0, 3)).toEqual([origin, String(checkpoint.treeSize), Buffer.from(checkpoint.rootHash, 'hex').toString('base64')]);
          expect(lines[6]).toBe('04');
          expect(lines[7]).toBe(lines[8]);
          expect(lines[9]).toBe(lines[10]);
          expect(lines[8]).toBe(vkey.split('+')[1]);
          expect(lines.filter((line) => line === 'Signature Verified Successfully')).toHaveLength(2);
        }
        const changed = { ...checkpoint, note: checkpoint.note!.replace(`\n${checkpoint.treeSize}\n`, `\n${checkpoint.treeSize + 1}\n`) };
        writeFileSync(join(work, 'checkpoint.json'), JSON.stringify(changed));
        const failed = runRecipe(recipe('### Checking a witness cosignature by hand'), work, { W: vkeys[0] });
        expect(failed.code).not.toBe(0);
        expect(failed.stdout).toContain('Signature Verification Failure');
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }, 120_000);

    it('"Verifying one receipt by hand" (Ed25519 variants) checks a real receipt document, and fails on a changed event', async () => {
      const document = await withInfrastructure((i) => i.ledger.receiptDocument(tenantId, 1));
      const work = mkdtempSync(join(tmpdir(), 'proofline-recipe-'));
      try {
        writeFileSync(join(work, 'pub.pem'), readFileSync(keyPath));
        const script = `R=receipt.json\n${recipe('## Verifying one receipt by hand', { fromStep1: true, ed25519: true })}`;
        writeFileSync(join(work, 'receipt.json'), JSON.stringify(document));
        const run = runRecipe(script, work);
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
        const lines = run.stdout.trim().split('\n').map((line) => line.replace(/ {2}-$/, ''));
        expect(lines).toEqual([
          document.receipt.eventHash,
          document.receipt.eventHash,
          'Signature Verified Successfully',
          document.receipt.receiptHash,
          document.receipt.receiptHash,
          'sn must be 0: 0',
          document.checkpoint.rootHash,
          document.checkpoint.rootHash,
          'Signature Verified Successfully',
        ]);

        writeFileSync(join(work, 'receipt.json'), JSON.stringify({ ...document, event: { ...document.event, data: { ...document.event.data, name: 'Changed' } } }));
        const changed = runRecipe(script, work);
        expect(changed.code).not.toBe(0);
        expect(changed.stdout.split('\n')[0]).not.toContain(document.receipt.eventHash);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }, 120_000);

    it('"Checking consistency by hand" leads from a kept checkpoint to a later signed one, and not from a changed kept root', async () => {
      const { later, answer } = await withInfrastructure(async (infrastructure) => {
        await infrastructure.pipeline.handle(workspaceDecider, { streamId: streamIdFor('workspace', tenantId), command: { type: 'RenameWorkspace', name: 'Fourth' }, context: fixedCommandContext(tenantId, 4) });
        for (const name of ['Fifth', 'Sixth']) await infrastructure.pipeline.handle(workspaceDecider, { streamId: streamIdFor('workspace', tenantId), command: { type: 'RenameWorkspace', name }, context: fixedCommandContext(tenantId, name === 'Fifth' ? 5 : 6) });
        await infrastructure.ledger.builder.catchUp();
        const issued = (await infrastructure.ledger.builder.checkpointNow(tenantId))!;
        await infrastructure.ledger.builder.catchUp();
        return { later: issued, answer: await infrastructure.ledger.consistency(tenantId, first.treeSize, issued.treeSize) };
      });
      expect(later.treeSize).toBeGreaterThan(first.treeSize);
      expect(answer.toCheckpoint).not.toBeNull();
      const work = mkdtempSync(join(tmpdir(), 'proofline-recipe-'));
      try {
        writeFileSync(join(work, 'pub.pem'), readFileSync(keyPath));
        writeFileSync(join(work, 'consistency.json'), JSON.stringify(answer));
        const check = (kept: SignedCheckpoint) => {
          writeFileSync(join(work, 'kept.json'), JSON.stringify(kept));
          return runRecipe(recipe('### Checking consistency by hand'), work);
        };

        const run = check(first);
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
        const lines = run.stdout.trim().split('\n');
        expect(lines.slice(0, 2)).toEqual(['Signature Verified Successfully', 'Signature Verified Successfully']);
        expect(lines[2]).toBe(lines[3]);
        expect(lines[4]).toBe(lines[5]);
        expect(lines[6]).toBe('sn must be 0: 0');
        expect(lines[7]).toBe(lines[8]);
        expect(lines[9]).toBe(lines[10]);
        expect(lines[10]).toBe(later.rootHash);
        expect(lines).not.toContain('FAIL: the proof is too long');

        // A kept head with another root: its signature fails, and the proof does not lead from it.
        const other = check({ ...first, rootHash: createHash('sha256').update('another history').digest('hex') });
        expect(other.code).not.toBe(0);
        expect(other.stdout).toContain('Signature Verification Failure');
        const unsigned = runRecipe(recipe('### Checking consistency by hand').replace(/^verify_head \$K.*$/m, ''), work);
        const rest = unsigned.stdout.trim().split('\n');
        expect(rest[rest.length - 4]).not.toBe(rest[rest.length - 3]);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }, 180_000);
  });
});
