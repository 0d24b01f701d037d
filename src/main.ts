import 'reflect-metadata';
import { createHttpApp } from './app/http-app';
import { createInfrastructure } from './app/infrastructure';
import { ConfigurationError, loadConfig } from './config/load-config';
import { seedDemoTenant } from './app/demo-tenant';
import { ensureAdmin } from './auth/bootstrap';

async function main(): Promise<void> {
  const config = loadConfig();
  const infrastructure = await createInfrastructure(config);
  const app = await createHttpApp(infrastructure);
  app.getHttpAdapter().getInstance().addHook('onClose', () => infrastructure.close());
  if (config.PROOFLINE_PROFILE === 'embedded') await seedDemoTenant(infrastructure);
  if (config.PROOFLINE_ADMIN_EMAIL && config.PROOFLINE_ADMIN_PASSWORD) {
    const deps = { users: infrastructure.identity.users, states: infrastructure.states, pipeline: infrastructure.pipeline };
    const admin = await ensureAdmin(deps, { email: config.PROOFLINE_ADMIN_EMAIL, password: config.PROOFLINE_ADMIN_PASSWORD });
    if (admin.outcome === 'created') process.stdout.write(`Created the first ADMIN, ${config.PROOFLINE_ADMIN_EMAIL}, in workspace ${admin.tenantId}\n`);
  }
  if (config.PROOFLINE_LEDGER_BUILDER === 'on') infrastructure.ledgerRunner.start();
  if (config.PROOFLINE_PROJECTIONS === 'on') await infrastructure.fanout.start();
  await app.listen({ port: config.PORT, host: config.HOST });
  const url = `http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${config.PORT}`;
  process.stdout.write(`Proofline (${config.PROOFLINE_PROFILE} profile) listening on ${url} — API docs at ${url}/docs\n`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigurationError) {
    process.stderr.write(`${error.message}\nSee README.md, "Configuration".\n`);
  } else {
    process.stderr.write(`Proofline failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
