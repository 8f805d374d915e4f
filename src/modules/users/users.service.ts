// Admin use cases over accounts. Invariants: an instance always keeps an active admin, and an
// admin cannot lock themselves out; deleting a user who owns resources needs ?cascade=true.
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../app.js';
import { conflict, notFound, invalidState, AppError } from '../../platform/http/app-error.js';
import { inTransaction, isUniqueViolation } from '../../platform/db/query.js';
import type { Principal } from '../../platform/http/principal.js';
import { audit } from '../audit/index.js';
import { authRepo, hashPassword, validateNewCredentials, type Role, type UserRecord, type UserStatus } from '../auth/index.js';
import * as repo from './users.repo.js';

export type StatusAction = 'approve' | 'reject' | 'disable' | 'enable';

const TRANSITIONS: Record<StatusAction, { from: UserStatus[]; to: UserStatus }> = {
  approve: { from: ['pending', 'rejected'], to: 'active' },
  reject: { from: ['pending'], to: 'rejected' },
  disable: { from: ['active', 'pending'], to: 'disabled' },
  enable: { from: ['disabled', 'rejected'], to: 'active' },
};

export function createUsersService(ctx: AppContext) {
  const db = ctx.database.db;

  async function ownedCounts(userId: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of ctx.userResources) {
      const n = await r.count(userId);
      if (n > 0) out[r.name] = n;
    }
    return out;
  }

  return {
    list: (f: repo.UserListFilter) => repo.listUsers(db, f),

    async create(req: FastifyRequest, body: { username: string; password: string; role?: Role }): Promise<UserRecord> {
      validateNewCredentials(body.username, body.password);
      const passwordHash = await hashPassword(body.password);
      try {
        return await inTransaction(db, async (tx) => {
          const u = await authRepo.insertUser(tx, { username: body.username, passwordHash, role: body.role ?? 'user', status: 'active', approvedBy: req.principal?.id ?? null });
          await audit(tx, req, { action: 'user.create', targetType: 'user', targetId: u.id, result: 'success', details: { username: u.username, role: u.role } });
          return u;
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict('Username is already taken', { field: 'username' });
        throw err;
      }
    },

    async changeStatus(req: FastifyRequest, actor: Principal, id: string, action: StatusAction): Promise<UserRecord> {
      const t = TRANSITIONS[action];
      return inTransaction(db, async (tx) => {
        const activeAdmins = await repo.lockAdmins(tx);
        const u = await repo.lockUser(tx, id);
        if (!u) throw notFound('User');
        if (u.status === t.to) return u; // idempotent
        if (!t.from.includes(u.status)) {
          throw invalidState(`Cannot ${action} a user whose status is ${u.status}`, { status: u.status });
        }
        if (action === 'disable') {
          if (u.id === actor.id) throw new AppError('FORBIDDEN', 'You cannot disable your own account');
          if (u.role === 'admin' && u.status === 'active' && activeAdmins <= 1) throw conflict('Cannot disable the last active admin');
        }
        const updated = await repo.updateStatus(tx, id, t.to, actor.id);
        // A disabled or rejected account loses its sessions now, not at token expiry.
        if (t.to !== 'active') await authRepo.revokeAllForUser(tx, id, `user_${t.to}`);
        await audit(tx, req, { action: `user.${action}`, targetType: 'user', targetId: id, result: 'success', details: { from: u.status, to: t.to } });
        return updated;
      });
    },

    async changeRole(req: FastifyRequest, actor: Principal, id: string, role: Role): Promise<UserRecord> {
      return inTransaction(db, async (tx) => {
        const activeAdmins = await repo.lockAdmins(tx);
        const u = await repo.lockUser(tx, id);
        if (!u) throw notFound('User');
        if (u.role === role) return u;
        if (u.role === 'admin' && u.status === 'active' && activeAdmins <= 1) throw conflict('Cannot demote the last active admin');
        if (u.id === actor.id) throw new AppError('FORBIDDEN', 'You cannot change your own role');
        const updated = await repo.updateRole(tx, id, role);
        await audit(tx, req, { action: 'user.role', targetType: 'user', targetId: id, result: 'success', details: { from: u.role, to: role } });
        return updated;
      });
    },

    async remove(req: FastifyRequest, actor: Principal, id: string, cascade: boolean): Promise<void> {
      if (id === actor.id) throw new AppError('FORBIDDEN', 'You cannot delete your own account');
      const target = await authRepo.findUserById(db, id);
      if (!target) throw notFound('User');
      const owned = await ownedCounts(id);
      if (Object.keys(owned).length > 0 && !cascade) {
        throw conflict('User still owns resources; delete them first or pass ?cascade=true', { owned });
      }
      if (cascade) {
        // Resources go first (VMs: domain, disks), each completely, before the account row.
        for (const r of ctx.userResources) await r.deleteAll(req, id);
      }
      await inTransaction(db, async (tx) => {
        const activeAdmins = await repo.lockAdmins(tx);
        const u = await repo.lockUser(tx, id);
        if (!u) throw notFound('User');
        if (u.role === 'admin' && u.status === 'active' && activeAdmins <= 1) throw conflict('Cannot delete the last active admin');
        await repo.deleteUser(tx, id);
        await audit(tx, req, { action: 'user.delete', targetType: 'user', targetId: id, result: 'success', details: { username: u.username, cascade, owned } });
      });
    },

    async resetPassword(userId: string, password: string, username: string): Promise<void> {
      validateNewCredentials(username, password);
      await inTransaction(db, async (tx) => {
        await authRepo.setPassword(tx, userId, await hashPassword(password));
        await authRepo.revokeAllForUser(tx, userId, 'password_reset');
      });
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
