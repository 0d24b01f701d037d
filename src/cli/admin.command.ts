import type { Command } from 'commander';
import { createInfrastructure } from '../app/infrastructure';
import { ensureAdmin } from '../auth/bootstrap';
import { loadConfig } from '../config/load-config';
import { ProoflineError } from '../errors/proofline-error';

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('Proofline operators (role ADMIN)');
  admin
    .command('create')
    .description('create an ADMIN account: in a new "Proofline Operations" workspace, or joining --tenant as ADMIN; an existing account is left unchanged')
    .requiredOption('--email <address>', 'the e-mail address to sign in with')
    .option('--password-stdin', 'read the password from standard input (keeps it out of the shell history); otherwise PROOFLINE_ADMIN_PASSWORD')
    .option('--tenant <tenantId>', 'an existing workspace to join as ADMIN')
    .action(async (options: { email: string; passwordStdin?: boolean; tenant?: string }) => {
      const password = options.passwordStdin ? (await readStdin()).replace(/\r?\n$/, '') : process.env.PROOFLINE_ADMIN_PASSWORD;
      if (!password) throw new Error('give the password on standard input with --password-stdin, or in PROOFLINE_ADMIN_PASSWORD');
      // The password may come from PROOFLINE_ADMIN_PASSWORD, which the server reads together with PROOFLINE_ADMIN_EMAIL.
      const infrastructure = await createInfrastructure(loadConfig({ ...process.env, PROOFLINE_ADMIN_EMAIL: options.email, PROOFLINE_ADMIN_PASSWORD: password }));
      try {
        const deps = { users: infrastructure.identity.users, states: infrastructure.states, pipeline: infrastructure.pipeline };
        const { outcome, tenantId } = await ensureAdmin(deps, { email: options.email, password, tenantId: options.tenant });
        process.stdout.write(`${describe(outcome)}: ${options.email} is ADMIN of workspace ${tenantId}\n`);
      } catch (error) {
        if (error instanceof ProoflineError) {
          process.stderr.write(`${error.code}: ${error.message}\n`);
          process.exitCode = 1;
          return;
        }
        throw error;
      } finally {
        await infrastructure.close();
      }
    });
}

function describe(outcome: string): string {
  return outcome === 'created' ? 'created' : outcome === 'added-to-workspace' ? 'added' : 'already present (unchanged)';
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
