import type { Command } from 'commander';
import { loadConfig } from '../config/load-config';
import { openDatabase } from '../database/database';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (the server also applies them at start)')
    .action(async () => {
      const config = loadConfig();
      const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.PROOFLINE_DATA_DIR, schema: config.DATABASE_SCHEMA });
      await database.close();
      process.stdout.write(`migrations applied (${database.kind})\n`);
    });
}
