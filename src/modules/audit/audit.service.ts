// Records every state-changing action. Callers pass the request (for actor, request id and client
// IP) so rows are complete without each module repeating that plumbing.
import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../../platform/db/query.js';
import { insertAudit, type AuditResult } from './audit.repo.js';

export interface AuditEvent {
  action: string;
  targetType?: string;
  targetId?: string | null;
  result: AuditResult;
  details?: Record<string, unknown>;
  /** Overrides the request's user (e.g. a login before a user is attached to the request). */
  actor?: { id: string; username: string } | null;
}

export async function audit(db: Queryable, req: FastifyRequest | undefined, e: AuditEvent): Promise<void> {
  const actor = e.actor !== undefined ? e.actor : req?.principal ? { id: req.principal.id, username: req.principal.username } : null;
  await insertAudit(db, {
    actorId: actor?.id ?? null,
    actorUsername: actor?.username ?? null,
    action: e.action,
    targetType: e.targetType ?? null,
    targetId: e.targetId ?? null,
    result: e.result,
    details: e.details,
    requestId: req ? String(req.id) : null,
    ip: req?.ip ?? null,
  });
}
