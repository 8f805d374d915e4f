// `limen serve` and `limen migrate`.
import type { Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { openDatabase } from '../platform/db/db.js';
import { migrate } from '../platform/db/migrate.js';
import { MIGRATIONS_DIR, startServer } from '../main.js';

export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('start the LIMEN server (configured by environment variables, see docs/operations.md)')
    .action(async () => {
      const config = loadProcessConfig();
      const server = await startServer(config);
      console.log(`LIMEN is running at ${server.url}`);
      const b = server.bootstrap;
      if (b.created && b.generatedPassword) {
        console.log(`First start: admin user "${b.username}" with password ${b.generatedPassword}`);
        console.log(`(also written to ${b.passwordFile}, mode 0600; change it after logging in)`);
      } else if (b.created) {
        console.log(`First start: admin user "${b.username}" created with LIMEN_ADMIN_PASSWORD`);
      }
      let closing = false;
      const stop = (signal: string): void => {
        if (closing) return;
        closing = true;
        server.app.log.info({ signal }, 'shutting down');
        // A stuck close must not keep the process alive forever.
        setTimeout(() => process.exit(1), 15_000).unref();
        server.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });

  program
    .command('migrate')
    .description('apply database migrations and exit')
    .action(async () => {
      const config = loadProcessConfig();
      const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      try {
        const r = await migrate(database, MIGRATIONS_DIR);
        console.log(`migrations: ${r.applied.length} applied, ${r.total} total`);
      } finally {
        await database.close();
      }
    });
}
