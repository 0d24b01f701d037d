import 'reflect-metadata';
import { createHttpApp } from './app/http-app';
import { createInfrastructure } from './app/infrastructure';
import { ConfigurationError, loadConfig } from './config/load-config';
import { blameSetting, oneLineMessage, SettingFailure, type Blame } from './config/setting-failure';
import type { ProoflineConfig } from './config/proofline-config';
import { seedDemoTenant } from './app/demo-tenant';
import { ensureAdmin } from './auth/bootstrap';
import { ProoflineError } from './errors/proofline-error';

async function main(): Promise<void> {
  const config = loadConfig();
  const infrastructure = await createInfrastructure(config);
  const app = await createHttpApp(infrastructure);
  app.getHttpAdapter().getInstance().addHook('onClose', () => infrastructure.close());
  if (config.PROOFLINE_PROFILE === 'embedded') await seedDemoTenant(infrastructure);
  if (config.PROOFLINE_ADMIN_EMAIL && config.PROOFLINE_ADMIN_PASSWORD) {
    const deps = { users: infrastructure.identity.users, states: infrastructure.states, pipeline: infrastructure.pipeline };
    const spec = { email: config.PROOFLINE_ADMIN_EMAIL, password: config.PROOFLINE_ADMIN_PASSWORD };
    const admin = await blameSetting(adminSettingOf, () => ensureAdmin(deps, spec));
    if (admin.outcome === 'created') process.stdout.write(`Created the first ADMIN, ${config.PROOFLINE_ADMIN_EMAIL}, in workspace ${admin.tenantId}\n`);
  }
  if (config.PROOFLINE_LEDGER_BUILDER === 'on') infrastructure.ledgerRunner.start();
  if (config.PROOFLINE_PROJECTIONS === 'on') await infrastructure.fanout.start();
  await blameSetting(listenSettingOf(config), () => app.listen({ port: config.PORT, host: config.HOST }));
  const url = `http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${config.PORT}`;
  process.stdout.write(`Proofline (${config.PROOFLINE_PROFILE} profile) listening on ${url} — API docs at ${url}/docs\n`);
}

/**
 * ensureAdmin refuses with a 4xx ProoflineError naming the field at fault: the password's policy
 * (checked only when the account is to be created), or an address a customer holds.
 */
function adminSettingOf(error: unknown): Blame | undefined {
  if (!(error instanceof ProoflineError) || error.status >= 500) return undefined;
  const fields = (error.details.fields ?? []) as Array<{ field?: string; rule?: string }>;
  const password = fields.find((field) => field.field === 'password');
  if (password) return ['PROOFLINE_ADMIN_PASSWORD', `must meet the password policy (rule ${password.rule})`];
  return ['PROOFLINE_ADMIN_EMAIL', `must be an address free for the operator or already an ADMIN's (${error.code})`];
}

function listenSettingOf(config: ProoflineConfig) {
  return (error: unknown): Blame => {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return ['HOST', 'must be an address of this machine'];
    return ['PORT', `must be a free port this process may listen on (HOST ${config.HOST})`];
  };
}

/** One line per failure, naming the setting and its rule; the stack only when LOG_LEVEL asks for detail. */
function report(error: unknown): string {
  if (error instanceof ConfigurationError) return error.problems.map((problem) => `Proofline failed to start: ${problem} (README.md, "Configuration")\n`).join('');
  const verbose = process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace';
  // A failure no setting explains is a fault of ours: say where the stack is.
  const hint = error instanceof SettingFailure || verbose ? '' : ' (LOG_LEVEL=debug prints the stack)';
  const line = `Proofline failed to start: ${oneLineMessage(error)}${hint}\n`;
  return verbose && error instanceof Error && error.stack ? `${line}${error.stack}\n` : line;
}

main().catch((error: unknown) => {
  process.stderr.write(report(error));
  process.exit(1);
});
