// One typed function per CONTRACT.md §4 endpoint the UI uses. Pages import from here, never build
// URLs themselves, so a path change is one edit.
import { api } from './client';
import type {
  AdminUser, Alert, AuditEntry, Backup, BootOrder, ConsoleSession, ConsoleTicket, Health, Host, Iso, List,
  Quota, QuotaDefaults, QuotaPatch, Role, Snapshot, UserStatus, Vm, VmAction, VmCreate, VmMedia,
  VmMediaChange, VmResize, VmStats,
} from './types';

const enc = encodeURIComponent;

export const health = {
  // /api/health answers 503 with the same body when degraded; the status page wants the body either way.
  get: async (): Promise<Health> => {
    const res = await fetch('/api/health', { headers: { Accept: 'application/json' } });
    return (await res.json()) as Health;
  },
};

export const auth = {
  register: (username: string, password: string) => api.post<{ message: string }>('/api/auth/register', { username, password }),
};

export const quota = {
  mine: () => api.get<Quota>('/api/quota'),
};

export const vms = {
  list: () => api.get<List<Vm>>('/api/vms'),
  get: (uuid: string) => api.get<Vm>(`/api/vms/${enc(uuid)}`),
  create: (body: VmCreate) => api.post<Vm>('/api/vms', body),
  resize: (uuid: string, body: VmResize) => api.patch<Vm>(`/api/vms/${enc(uuid)}`, body),
  remove: (uuid: string) => api.del<Vm | undefined>(`/api/vms/${enc(uuid)}`),
  action: (uuid: string, action: VmAction) => api.post<Vm>(`/api/vms/${enc(uuid)}/action`, { action }),
  stats: (uuid: string) => api.get<VmStats>(`/api/vms/${enc(uuid)}/stats`),
  media: (uuid: string) => api.get<VmMedia>(`/api/vms/${enc(uuid)}/media`),
  changeMedia: (uuid: string, body: VmMediaChange) => api.post<VmMedia>(`/api/vms/${enc(uuid)}/media`, body),
  bootOrder: (uuid: string) => api.get<BootOrder>(`/api/vms/${enc(uuid)}/boot-order`),
  setBootOrder: (uuid: string, order: BootOrder['order']) => api.put<BootOrder>(`/api/vms/${enc(uuid)}/boot-order`, { order }),
  console: (uuid: string) => api.post<ConsoleTicket>(`/api/vms/${enc(uuid)}/console`),
  // ASSUMED endpoint: the contract has no per-VM activity route for owners yet; admins use the audit log.
  activity: (uuid: string) => api.get<List<AuditEntry>>(`/api/vms/${enc(uuid)}/activity`),
};

export const snapshots = {
  list: (uuid: string) => api.get<List<Snapshot>>(`/api/vms/${enc(uuid)}/snapshots`),
  create: (uuid: string, name: string, description: string) => api.post<Snapshot>(`/api/vms/${enc(uuid)}/snapshots`, { name, description }),
  revert: (id: string) => api.post<Snapshot>(`/api/snapshots/${enc(id)}/restore`),
  remove: (id: string) => api.del(`/api/snapshots/${enc(id)}`),
};

export const isos = {
  list: () => api.get<List<Iso>>('/api/isos'),
  remove: (name: string) => api.del(`/api/admin/isos/${enc(name)}`),
};

export interface UserFilter { status?: UserStatus | ''; role?: Role | ''; username?: string; page?: number }

export const adminUsers = {
  list: (f: UserFilter) => api.get<List<AdminUser>>('/api/admin/users', { ...f }),
  create: (username: string, password: string, role: Role) => api.post<AdminUser>('/api/admin/users', { username, password, role }),
  setStatus: (id: string, action: 'approve' | 'reject' | 'disable' | 'enable') => api.post<AdminUser>(`/api/admin/users/${enc(id)}/${action}`),
  setRole: (id: string, role: Role) => api.patch<AdminUser>(`/api/admin/users/${enc(id)}`, { role }),
  remove: (id: string, cascade: boolean) => api.del(`/api/admin/users/${enc(id)}`, { cascade: cascade ? 'true' : undefined }),
  quota: (id: string) => api.get<Quota>(`/api/admin/users/${enc(id)}/quota`),
  setQuota: (id: string, patch: QuotaPatch) => api.put<Quota>(`/api/admin/users/${enc(id)}/quota`, patch),
};

export const admin = {
  quotaDefaults: () => api.get<QuotaDefaults>('/api/admin/quota-defaults'),
  setQuotaDefaults: (patch: QuotaPatch) => api.put<QuotaDefaults>('/api/admin/quota-defaults', patch),
  vms: () => api.get<List<Vm>>('/api/admin/vms'),
  consoleSessions: () => api.get<List<ConsoleSession>>('/api/admin/console-sessions'),
  endConsoleSession: (id: string) => api.del(`/api/admin/console-sessions/${enc(id)}`),
  audit: (q: Record<string, string | number | undefined>) => api.get<List<AuditEntry>>('/api/admin/audit', q),
  alerts: () => api.get<List<Alert>>('/api/alerts'),
  hosts: () => api.get<List<Host>>('/api/admin/hosts'),
  addHost: (name: string, uri: string) => api.post<Host>('/api/admin/hosts', { name, uri }),
  drainHost: (id: string) => api.post<Host>(`/api/admin/hosts/${enc(id)}/drain`),
  removeHost: (id: string) => api.del(`/api/admin/hosts/${enc(id)}`),
  backups: () => api.get<List<Backup>>('/api/admin/backups'),
  startBackup: () => api.post<Backup>('/api/admin/backups'),
};
