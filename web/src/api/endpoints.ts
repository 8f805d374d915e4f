// One typed function per CONTRACT.md §4 endpoint the UI uses. Pages import from here, never build
// URLs themselves, so a path change is one edit.
import { api } from './client';
import type {
  AdminUser, AdminVmList, Alert, AuditEntry, AuditQuery, Backup, BootDevice, BootOrder, ConsoleSession, ConsoleTicket, Health, Host,
  Iso, List, Quota, QuotaDefaults, QuotaPatch, Role, Snapshot, UserFilter, UserQuota, UserQuotaPatch, Vm, VmAction, VmCreate, VmMedia,
  VmPatch, VmPatchResult, VmStats, Template, TemplateFromVm, SshKey, Group, GroupDetail, GroupCreate, GroupQuotaPatch, GroupBulkAction, GroupBulkResult, MyGroup,
  GroupProvision, GroupProvisionRequest,
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
  /** Every VM of the list (the API answers a page of at most 200 at a time). */
  list: async (): Promise<List<Vm>> => {
    const page = (n: number) => api.get<List<Vm>>('/api/vms', { per_page: '200', page: String(n) });
    const first = await page(1);
    const items = [...first.items];
    for (let n = 2; items.length < first.total && n <= 50; n++) {
      const next = await page(n);
      if (next.items.length === 0) break;
      items.push(...next.items);
    }
    return { items, total: first.total };
  },
  get: (uuid: string) => api.get<Vm>(`/api/vms/${enc(uuid)}`),
  create: (body: VmCreate) => api.post<Vm>('/api/vms', body),
  // PATCH answers {vm, applied}: `applied` says whether the change is live or waits for the next boot.
  update: (uuid: string, body: VmPatch) => api.patch<VmPatchResult>(`/api/vms/${enc(uuid)}`, body),
  remove: (uuid: string) => api.del<Vm>(`/api/vms/${enc(uuid)}`),
  action: (uuid: string, action: VmAction) => api.post<Vm>(`/api/vms/${enc(uuid)}/action`, { action }),
  stats: (uuid: string) => api.get<VmStats>(`/api/vms/${enc(uuid)}/stats`),
  activity: (uuid: string) => api.get<List<AuditEntry>>(`/api/vms/${enc(uuid)}/activity`),
  media: (uuid: string) => api.get<VmMedia>(`/api/vms/${enc(uuid)}/media`),
  /** Insert a library ISO (by id) or eject (null). */
  setMedia: (uuid: string, isoId: string | null) => api.post<VmMedia>(`/api/vms/${enc(uuid)}/media`, { iso: isoId }),
  bootOrder: (uuid: string) => api.get<BootOrder>(`/api/vms/${enc(uuid)}/boot-order`),
  setBootOrder: (uuid: string, order: BootDevice[]) => api.put<BootOrder>(`/api/vms/${enc(uuid)}/boot-order`, { boot_order: order }),
  console: (uuid: string) => api.post<ConsoleTicket>(`/api/vms/${enc(uuid)}/console`),
};

export const snapshots = {
  list: (uuid: string) => api.get<List<Snapshot>>(`/api/vms/${enc(uuid)}/snapshots`),
  create: (uuid: string, name: string, description: string) => api.post<Snapshot>(`/api/vms/${enc(uuid)}/snapshots`, { name, description }),
  revert: (id: string) => api.post<Snapshot>(`/api/snapshots/${enc(id)}/restore`),
  remove: (id: string) => api.del(`/api/snapshots/${enc(id)}`),
};

export const isos = {
  list: () => api.get<List<Iso>>('/api/isos'),
  remove: (id: string) => api.del(`/api/admin/isos/${enc(id)}`),
};

export const adminUsers = {
  list: (f: UserFilter) => api.get<List<AdminUser>>('/api/admin/users', { ...f }),
  create: (username: string, password: string, role: Role) => api.post<AdminUser>('/api/admin/users', { username, password, role }),
  setStatus: (id: string, action: 'approve' | 'reject' | 'disable' | 'enable') => api.post<AdminUser>(`/api/admin/users/${enc(id)}/${action}`),
  setRole: (id: string, role: Role) => api.patch<AdminUser>(`/api/admin/users/${enc(id)}`, { role }),
  remove: (id: string, cascade: boolean) => api.del(`/api/admin/users/${enc(id)}`, { cascade: cascade ? 'true' : undefined }),
  quota: (id: string) => api.get<UserQuota>(`/api/admin/users/${enc(id)}/quota`),
  setQuota: (id: string, patch: UserQuotaPatch) => api.put<UserQuota>(`/api/admin/users/${enc(id)}/quota`, patch),
};

export const admin = {
  quotaDefaults: () => api.get<QuotaDefaults>('/api/admin/quota-defaults'),
  setQuotaDefaults: (patch: QuotaPatch) => api.put<QuotaDefaults>('/api/admin/quota-defaults', patch),
  vms: () => api.get<AdminVmList>('/api/admin/vms'),
  /** stopped: cold, answers with the VM on its new host; running: live, answers 202 with `migrating_to` set */
  migrateVm: (uuid: string, host: string) => api.post<Vm>(`/api/admin/vms/${enc(uuid)}/migrate`, { host }),
  consoleSessions: (open = true) => api.get<List<ConsoleSession>>('/api/admin/console-sessions', { open }),
  endConsoleSession: (id: string) => api.del(`/api/admin/console-sessions/${enc(id)}`),
  audit: (q: AuditQuery) => api.get<List<AuditEntry>>('/api/admin/audit', { ...q }),
  alerts: () => api.get<List<Alert>>('/api/alerts'),
  hosts: () => api.get<List<Host>>('/api/admin/hosts'),
  addHost: (name: string, uri: string) => api.post<Host>('/api/admin/hosts', { name, uri }),
  drainHost: (id: string) => api.post<Host>(`/api/admin/hosts/${enc(id)}/drain`),
  undrainHost: (id: string) => api.post<Host>(`/api/admin/hosts/${enc(id)}/undrain`),
  removeHost: (id: string) => api.del(`/api/admin/hosts/${enc(id)}`),
  backups: () => api.get<List<Backup>>('/api/admin/backups'),
  startBackup: (withIsos = false) => api.post<Backup>('/api/admin/backups', { with_isos: withIsos }),
};

export const groups = {
  list: () => api.get<List<Group>>('/api/admin/groups'),
  get: (id: string) => api.get<GroupDetail>(`/api/admin/groups/${enc(id)}`),
  create: (body: GroupCreate) => api.post<GroupDetail>('/api/admin/groups', body),
  update: (id: string, body: { name?: string; description?: string }) => api.patch<GroupDetail>(`/api/admin/groups/${enc(id)}`, body),
  remove: (id: string) => api.del(`/api/admin/groups/${enc(id)}`),
  addMembers: (id: string, userIds: string[]) => api.post<List<GroupDetail['members'][number]>>(`/api/admin/groups/${enc(id)}/members`, { user_ids: userIds }),
  removeMember: (id: string, userId: string) => api.del(`/api/admin/groups/${enc(id)}/members/${enc(userId)}`),
  setQuota: (id: string, patch: GroupQuotaPatch) => api.put<GroupDetail>(`/api/admin/groups/${enc(id)}/quota`, patch),
  vms: (id: string) => api.get<List<Vm>>(`/api/admin/groups/${enc(id)}/vms`),
  bulk: (id: string, action: GroupBulkAction, snapshotName?: string) => api.post<GroupBulkResult>(`/api/admin/groups/${enc(id)}/actions`, { action, ...(snapshotName ? { snapshot_name: snapshotName } : {}) }),
  mine: () => api.get<List<MyGroup>>('/api/me/groups'),
  /** 202: one VM per active member, all or nothing on quotas; progress arrives as `group.provision.progress`. */
  provision: (id: string, body: GroupProvisionRequest) => api.post<GroupProvision>(`/api/admin/groups/${enc(id)}/provision`, body),
  /** Newest first; each settled from the VM rows when asked. */
  provisions: (id: string) => api.get<List<GroupProvision>>(`/api/admin/groups/${enc(id)}/provisions`),
  provisionStatus: (provisionId: string) => api.get<GroupProvision>(`/api/admin/group-provisions/${enc(provisionId)}`),
};

export const templates = {
  list: () => api.get<List<Template>>('/api/templates'),
  /** 202: the disk is copied in the background; the template is `creating` until it is `ready`. */
  fromVm: (body: TemplateFromVm) => api.post<Template>('/api/templates', body),
  remove: (id: string) => api.del(`/api/templates/${enc(id)}`),
};

export const sshKeys = {
  list: () => api.get<List<SshKey>>('/api/me/ssh-keys'),
  add: (publicKey: string, name?: string) => api.post<SshKey>('/api/me/ssh-keys', { public_key: publicKey, ...(name ? { name } : {}) }),
  remove: (id: string) => api.del(`/api/me/ssh-keys/${enc(id)}`),
};
