// The first admin is created once, on the first start, and never reset by later starts (a
// settings flag remembers it even if that admin is later renamed, demoted or deleted).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { Config } from '../../config/config.js';
import type { Db } from '../../platform/db/db.js';
import { inTransaction, queryOne } from '../../platform/db/query.js';
import { insertAudit } from '../audit/audit.repo.js';
import { insertUser } from './auth.repo.js';
import { hashPassword } from './passwords.js';

export interface BootstrapResult {
  created: boolean;
  username: string;
  /** Set only when created with a generated password (printed once). */
  generatedPassword?: string;
  passwordFile?: string;
}

export async function bootstrapFirstAdmin(db: Db, config: Config): Promise<BootstrapResult> {
  const generated = config.adminPassword === undefined ? randomBytes(12).toString('base64url') : undefined;
  const password = config.adminPassword ?? generated!;
  const passwordHash = await hashPassword(password);
  const created = await inTransaction(db, async (tx) => {
    // Several instances may start together: the first to insert the flag wins.
    const flag = await queryOne<{ key: string }>(tx, sql`insert into settings (key, value) values ('first_admin_created', 'true'::jsonb)
      on conflict (key) do nothing returning key`);
    if (!flag) return false;
    const u = await insertUser(tx, { username: config.adminUser, passwordHash, role: 'admin', status: 'active' });
    await insertAudit(tx, { actorId: null, actorUsername: 'system', action: 'user.bootstrap_admin', targetType: 'user', targetId: u.id, result: 'success', requestId: null, ip: null });
    return true;
  });
  if (!created) return { created: false, username: config.adminUser };
  if (generated === undefined) return { created: true, username: config.adminUser };
  const passwordFile = join(config.dataDir, 'initial-admin-password');
  writeFileSync(passwordFile, `${generated}\n`, { mode: 0o600 });
  return { created: true, username: config.adminUser, generatedPassword: generated, passwordFile };
}
