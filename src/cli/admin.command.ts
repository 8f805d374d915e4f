// `limen admin create` and `limen admin reset-password`: account recovery for operators.
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { authRepo, hashPassword, validateNewCredentials } from '../modules/auth/index.js';
import { insertAudit } from '../modules/audit/audit.repo.js';
import { inTransaction } from '../platform/db/query.js';
import { withCliDatabase } from './cli-database.js';

const generatePassword = (): string => randomBytes(12).toString('base64url');

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('manage accounts from the command line');

  admin
    .command('create')
    .description('create an active user (admin by default); prints a generated password unless --password is given')
    .requiredOption('-u, --username <name>', 'username (3-32 of a-z 0-9 _ . -)')
    .option('-p, --password <password>', 'password (10-256 characters); generated when omitted')
    .option('-r, --role <role>', 'admin or user', 'admin')
    .action(async (opts: { username: string; password?: string; role: string }) => {
      if (opts.role !== 'admin' && opts.role !== 'user') throw new Error('--role must be admin or user');
      const config = loadProcessConfig();
      const password = opts.password ?? generatePassword();
      validateNewCredentials(opts.username, password);
      await withCliDatabase(config, async ({ db }) => {
        if (await authRepo.findUserByUsername(db, opts.username)) throw new Error(`user "${opts.username}" already exists`);
        const passwordHash = await hashPassword(password);
        await inTransaction(db, async (tx) => {
          const u = await authRepo.insertUser(tx, { username: opts.username, passwordHash, role: opts.role as 'admin' | 'user', status: 'active' });
          await insertAudit(tx, { actorId: null, actorUsername: 'cli', action: 'user.create', targetType: 'user', targetId: u.id, result: 'success', details: { role: u.role }, requestId: null, ip: null });
        });
      });
      console.log(`created ${opts.role} "${opts.username.toLowerCase()}"`);
      if (!opts.password) console.log(`password: ${password}`);
    });

  admin
    .command('reset-password')
    .description('set a new password for a user and end all their sessions; prints a generated password unless --password is given')
    .argument('<username>')
    .option('-p, --password <password>', 'the new password; generated when omitted')
    .action(async (username: string, opts: { password?: string }) => {
      const config = loadProcessConfig();
      const password = opts.password ?? generatePassword();
      validateNewCredentials(username, password);
      await withCliDatabase(config, async ({ db }) => {
        const u = await authRepo.findUserByUsername(db, username);
        if (!u) throw new Error(`no user "${username}"`);
        const passwordHash = await hashPassword(password);
        await inTransaction(db, async (tx) => {
          await authRepo.setPassword(tx, u.id, passwordHash);
          await authRepo.revokeAllForUser(tx, u.id, 'password_reset');
          await insertAudit(tx, { actorId: null, actorUsername: 'cli', action: 'user.reset_password', targetType: 'user', targetId: u.id, result: 'success', requestId: null, ip: null });
        });
      });
      console.log(`password of "${username.toLowerCase()}" reset; existing sessions ended`);
      if (!opts.password) console.log(`password: ${password}`);
    });
}
