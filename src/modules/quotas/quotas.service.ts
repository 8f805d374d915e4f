// Quota use cases. `enforce` runs inside the caller's allocation transaction (create, resize,
// start, snapshot): it takes the user's quota lock, reads usage from the database and refuses
// with QUOTA_EXCEEDED — so 50 concurrent creates against a quota of 3 yield exactly 3 VMs.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../app.js';
import { AppError, notFound } from '../../platform/http/app-error.js';
import { inTransaction, type Queryable } from '../../platform/db/query.js';
import { audit } from '../audit/index.js';
import { authRepo } from '../auth/index.js';
import * as repo from './quotas.repo.js';
import { effectiveLimits, findDenial, METRIC_RESOURCE, overLimit, QUOTA_KEYS, type QuotaKey, type QuotaLimits, type QuotaRequest, type QuotaUsage } from './quota-rules.js';

export interface QuotaView {
  limits: QuotaLimits;
  usage: QuotaUsage;
  over_limit: QuotaKey[];
}

export interface HostCapacity {
  cpus: number;
  memoryMb: number;
  /** this host's ratios (default: LIMEN_CPU_OVERCOMMIT / LIMEN_MEMORY_OVERCOMMIT) */
  cpuOvercommit?: number;
  memoryOvercommit?: number;
}

export function quotaExceeded(d: { resource: QuotaKey; limit: number; used: number; requested: number }): AppError {
  return new AppError('QUOTA_EXCEEDED', `Quota exceeded for ${d.resource}: limit ${d.limit}, in use ${d.used}, requested ${d.requested}`, { ...d });
}

export function createQuotasService(ctx: AppContext) {
  const db = ctx.database.db;

  async function limitsFor(q: Queryable, userId: string): Promise<QuotaLimits> {
    return effectiveLimits(await repo.getDefaults(q), await repo.getOverrides(q, userId));
  }

  return {
    async view(userId: string): Promise<QuotaView> {
      const [limits, usage] = await Promise.all([limitsFor(db, userId), repo.getUsage(db, userId)]);
      return { limits, usage, over_limit: overLimit(limits, usage) };
    },

    /**
     * Inside an allocation transaction: lock, then refuse if `request` does not fit. Admins are
     * held to their own quota unless LIMEN_ADMIN_QUOTA_EXEMPT is set.
     */
    async enforce(tx: Queryable, owner: { id: string; role: 'user' | 'admin' }, request: QuotaRequest): Promise<void> {
      await repo.lockUserQuota(tx, owner.id);
      if (owner.role === 'admin' && ctx.config.adminQuotaExempt) return;
      const [limits, usage] = await Promise.all([limitsFor(tx, owner.id), repo.getUsage(tx, owner.id)]);
      const denial = findDenial(limits, usage, request);
      if (denial) throw quotaExceeded(denial);
    },

    /** Refuses an allocation that would overcommit the host beyond the configured ratios. */
    async enforceHostCapacity(tx: Queryable, host: string, capacity: HostCapacity, request: { vcpus: number; memoryMb: number }): Promise<void> {
      const used = await repo.getHostAllocation(tx, host);
      const maxVcpus = Math.floor(capacity.cpus * (capacity.cpuOvercommit ?? ctx.config.cpuOvercommit));
      const maxMemory = Math.floor(capacity.memoryMb * (capacity.memoryOvercommit ?? ctx.config.memoryOvercommit));
      if (request.vcpus > 0 && used.vcpus + request.vcpus > maxVcpus) {
        throw new AppError('HOST_CAPACITY_EXCEEDED', `Host ${host} has no room for ${request.vcpus} more vCPUs (${used.vcpus} of ${maxVcpus} allocated)`, { resource: 'vcpus', host, limit: maxVcpus, used: used.vcpus, requested: request.vcpus });
      }
      if (request.memoryMb > 0 && used.memoryMb + request.memoryMb > maxMemory) {
        throw new AppError('HOST_CAPACITY_EXCEEDED', `Host ${host} has no room for ${request.memoryMb} MiB more memory (${used.memoryMb} of ${maxMemory} MiB allocated)`, { resource: 'memory_mb', host, limit: maxMemory, used: used.memoryMb, requested: request.memoryMb });
      }
    },

    async adminView(userId: string) {
      const user = await authRepo.findUserById(db, userId);
      if (!user) throw notFound('User');
      const [defaults, overrides, usage] = await Promise.all([repo.getDefaults(db), repo.getOverrides(db, userId), repo.getUsage(db, userId)]);
      const limits = effectiveLimits(defaults, overrides);
      return { user_id: userId, limits, usage, over_limit: overLimit(limits, usage), overrides, defaults };
    },

    /** Sets a subset of a user's limits: a number, null (unlimited) or "default" (follow defaults). */
    async setUserLimits(req: FastifyRequest, userId: string, patch: Partial<Record<QuotaKey, number | null | 'default'>>) {
      await inTransaction(db, async (tx) => {
        const user = await authRepo.findUserById(tx, userId);
        if (!user) throw notFound('User');
        const overrides = await repo.getOverrides(tx, userId);
        for (const key of QUOTA_KEYS) {
          if (!(key in patch)) continue;
          const v = patch[key];
          if (v === 'default') delete overrides[key];
          else overrides[key] = v ?? null;
        }
        await repo.setOverrides(tx, userId, overrides);
        await audit(tx, req, { action: 'quota.set', targetType: 'user', targetId: userId, result: 'success', details: { patch } });
      });
      return this.adminView(userId);
    },

    getDefaults: () => repo.getDefaults(db),

    async setDefaults(req: FastifyRequest, patch: Partial<QuotaLimits>): Promise<QuotaLimits> {
      return inTransaction(db, async (tx) => {
        const next = { ...(await repo.getDefaults(tx)) };
        for (const key of QUOTA_KEYS) if (key in patch) next[key] = patch[key] ?? null;
        await repo.setDefaults(tx, next);
        await audit(tx, req, { action: 'quota.defaults', result: 'success', details: { patch } });
        return next;
      });
    },
  };
}

export type QuotasService = ReturnType<typeof createQuotasService>;

/**
 * Every refusal, from any route, is counted once in vm_quota_denied_total{resource} and written to
 * the audit log — after the refused transaction has rolled back, so the row is kept.
 */
export function registerQuotaDenialRecorder(app: FastifyInstance, ctx: AppContext): void {
  app.addHook('onError', async (req, _reply, err) => {
    if (err instanceof AppError) await recordQuotaDenial(ctx, req, err);
  });
}

/**
 * Counts and audits one QUOTA_EXCEEDED refusal (no-op for other errors). The hook above does it
 * for a refused request; work that refuses per item and still answers 200 (bulk group actions)
 * calls it for each refused item.
 */
export async function recordQuotaDenial(ctx: AppContext, req: FastifyRequest | undefined, err: AppError, extra: Record<string, unknown> = {}): Promise<void> {
  if (err.code !== 'QUOTA_EXCEEDED') return;
  const resource = (err.details as { resource?: QuotaKey } | undefined)?.resource;
  const label = resource ? METRIC_RESOURCE[resource] : undefined;
  if (label) ctx.metrics.quotaDenied.inc({ resource: label });
  await audit(ctx.database.db, req, {
    action: 'quota.denied',
    targetType: 'user',
    targetId: req?.principal?.id ?? null,
    result: 'denied',
    details: { ...err.details, ...extra, route: req?.routeOptions.url },
  }).catch((e: unknown) => ctx.log.warn({ err: e }, 'could not audit a quota denial'));
}
