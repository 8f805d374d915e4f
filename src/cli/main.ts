// The `limen` command for operators (CONTRACT.md §5). Each subcommand lives in its own file.
import { Command } from 'commander';
import { ConfigError } from '../config/config.js';
import { registerServeCommands } from './serve.command.js';
import { registerAdminCommands } from './admin.command.js';
import { registerBackupCommands } from './backup.command.js';
import { registerRestoreCommand } from './restore.command.js';
import { registerDrillCommand } from './drill.command.js';
import { registerReadinessCommand } from './readiness.command.js';
import { registerAlertsCommands } from './alerts.command.js';
import { registerIsosCommands } from './isos.command.js';
import { registerHostsCommands } from './hosts.command.js';
import { registerVmsCommands } from './vms.command.js';

const program = new Command();
program.name('limen').description('LIMEN: virtual machines in the browser').showHelpAfterError();
registerServeCommands(program);
registerAdminCommands(program);
registerBackupCommands(program);
registerRestoreCommand(program);
registerDrillCommand(program);
registerReadinessCommand(program);
registerAlertsCommands(program);
registerIsosCommands(program);
registerHostsCommands(program);
registerVmsCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`limen: configuration error: ${err.message}`);
    process.exit(1);
  }
  console.error(`limen: ${(err as Error).message}`);
  process.exit(1);
}
