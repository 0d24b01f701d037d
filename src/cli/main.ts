#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { ConfigurationError } from '../config/load-config';
import { registerAdminCommands } from './admin.command';
import { registerEventCommands } from './events.command';
import { registerKeyCommands } from './keys.command';
import { registerLedgerCommands, registerVerifyReceiptCommand } from './ledger.command';
import { registerMigrateCommand } from './migrate.command';
import { registerProjectionCommands } from './projections.command';
import { registerWitnessCommands } from './witness.command';

/** `proofline`: operations on a Proofline data dir or database, configured like the server (README, "Configuration"). */
const program = new Command('proofline').description('Proofline command line').showHelpAfterError();
registerEventCommands(program);
registerKeyCommands(program);
registerMigrateCommand(program);
registerLedgerCommands(program);
registerVerifyReceiptCommand(program);
registerAdminCommands(program);
registerProjectionCommands(program);
registerWitnessCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigurationError ? error.message : error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
