// Secrets that exist only so the CLI on this machine can work with the server on this machine:
//
// - operator token ($LIMEN_DATA_DIR/secrets/operator-token, 0600): the CLI presents it to the
//   /api/operator/* routes over loopback when a running server holds the embedded database (only
//   that process may open it). Whoever can read the data dir owns the installation anyway; the
//   token adds nothing they could not do, and the routes also refuse non-loopback peers.
// - drill account ($LIMEN_DATA_DIR/secrets/drill-account, 0600): a dedicated admin account the
//   restore drill logs in with on the *scratch* instance. It lives in the live database, so every
//   backup carries its password hash, and a successful login proves the restored accounts work.
//   Created once (audited), never a hard-coded password.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../../platform/db/db.js';
import { sql } from 'drizzle-orm';
import { inTransaction } from '../../platform/db/query.js';
import { authRepo, hashPassword, invalidatePrincipals } from '../auth/index.js';
import { insertAudit } from '../audit/audit.repo.js';

export const DRILL_USERNAME = 'limen-drill';

const secretsDir = (dataDir: string): string => join(dataDir, 'secrets');
export const operatorTokenFile = (dataDir: string): string => join(secretsDir(dataDir), 'operator-token');
export const drillAccountFile = (dataDir: string): string => join(secretsDir(dataDir), 'drill-account');

function writeSecret(file: string, content: string): void {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The operator token of this data dir, created on first use. */
export function ensureOperatorToken(dataDir: string): string {
  const file = operatorTokenFile(dataDir);
  if (existsSync(file)) {
    const t = readFileSync(file, 'utf8').trim();
    if (t.length >= 32) return t;
  }
  const t = randomBytes(32).toString('base64url');
  writeSecret(file, `${t}\n`);
  return t;
}

export function readOperatorToken(dataDir: string): string | undefined {
  try {
    return readFileSync(operatorTokenFile(dataDir), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface DrillAccount {
  username: string;
  password: string;
}

export function readDrillAccount(dataDir: string): DrillAccount | undefined {
  try {
    const a = JSON.parse(readFileSync(drillAccountFile(dataDir), 'utf8')) as DrillAccount;
    return typeof a.username === 'string' && typeof a.password === 'string' ? a : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure the drill account exists, is an active admin and matches the password file. Touches
 * the live database only when something is missing (first drill, or the file was deleted).
 */
export async function ensureDrillAccount(db: Db, dataDir: string): Promise<DrillAccount> {
  const known = readDrillAccount(dataDir);
  const user = await authRepo.findUserByUsername(db, DRILL_USERNAME);
  if (known && user && user.status === 'active' && user.role === 'admin') return known;
  const account = { username: DRILL_USERNAME, password: randomBytes(18).toString('base64url') };
  const hash = await hashPassword(account.password);
  await inTransaction(db, async (tx) => {
    let id = user?.id;
    if (user) {
      await authRepo.setPassword(tx, user.id, hash);
      await tx.execute(sql`update users set role = 'admin', status = 'active', updated_at = now() where id = ${user.id}`);
      invalidatePrincipals();
    } else {
      id = (await authRepo.insertUser(tx, { username: DRILL_USERNAME, passwordHash: hash, role: 'admin', status: 'active' })).id;
    }
    await insertAudit(tx, { actorId: null, actorUsername: 'drill', action: user ? 'user.drill_account_reset' : 'user.drill_account_create', targetType: 'user', targetId: id ?? null, result: 'success', requestId: null, ip: null });
  });
  writeSecret(drillAccountFile(dataDir), JSON.stringify(account) + '\n');
  return account;
}
