// Types of the LIMEN HTTP API, written by hand from CONTRACT.md §4 while the backend is built in
// parallel. TODO: generate these from the committed /api/openapi.json (openapi-typescript) once
// every route exists, and delete this file. Shapes the contract leaves open are marked ASSUMED.
import type { Quota, QuotaLimits } from '../lib/quota';

export type { Quota, QuotaKey, QuotaLimits, QuotaUsage } from '../lib/quota';

export interface List<T> { items: T[]; total: number }

export type Role = 'user' | 'admin';
export type UserStatus = 'pending' | 'active' | 'rejected' | 'disabled';

export interface SessionUser { id: string; username: string; role: Role }

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  user: SessionUser;
}

export interface Health {
  status: 'ok' | 'degraded';
  db: 'connected' | 'disconnected';
  libvirt: 'connected' | 'disconnected' | 'simulated';
  time: string;
  version: string;
}

export const VM_STATES = ['creating', 'stopped', 'starting', 'running', 'paused', 'stopping', 'deleting', 'error', 'missing'] as const;
export type VmState = (typeof VM_STATES)[number];

export interface Vm {
  uuid: string;
  name: string;
  state: VmState;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
  iso: string | null;
  owner_id: string;
  host: string | null;
  created_at: string;
  updated_at: string;
  owner_username?: string; // ASSUMED: present in GET /api/admin/vms
}

export interface VmCreate { name: string; vcpus: number; memory_mb: number; disk_gb: number; iso?: string }
export type VmResize = Partial<Pick<Vm, 'vcpus' | 'memory_mb' | 'disk_gb'>>;

export const VM_ACTIONS = ['start', 'shutdown', 'stop', 'reboot', 'reset', 'pause', 'resume'] as const;
export type VmAction = (typeof VM_ACTIONS)[number];

/** ASSUMED shape of GET /api/vms/{uuid}/stats. */
export interface VmStats {
  cpu_percent?: number;
  memory_used_mb?: number;
  disk_read_bps?: number;
  disk_write_bps?: number;
  net_rx_bps?: number;
  net_tx_bps?: number;
  guest_ips?: string[];
}

/** ASSUMED shape of GET /api/vms/{uuid}/media: the VM's CD-ROM and what it holds. */
export interface VmMedia { iso: string | null; applies?: 'now' | 'next_boot' }
/** ASSUMED body of POST /api/vms/{uuid}/media. */
export type VmMediaChange = { action: 'attach'; iso: string } | { action: 'eject' };

export const BOOT_DEVICES = ['cdrom', 'hd', 'network'] as const;
export type BootDevice = (typeof BOOT_DEVICES)[number];
/** ASSUMED shape of GET/PUT /api/vms/{uuid}/boot-order. */
export interface BootOrder { order: BootDevice[]; applies?: 'now' | 'next_boot' }

export interface Snapshot {
  id: string;
  vm_uuid: string;
  name: string;
  description: string | null;
  state: string;
  created_at: string;
}

export interface ConsoleTicket { ws_url: string; ticket: string; expires_at: string }

/** ASSUMED shape of an ISO in GET /api/isos. */
export interface Iso { name: string; size_bytes?: number; created_at?: string }

export interface AdminUser {
  id: string;
  username: string;
  role: Role;
  status: UserStatus;
  created_at: string;
  updated_at: string;
  approved_at: string | null;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor_id: string | null;
  actor_username: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  result: string;
  details: Record<string, unknown>;
  request_id: string | null;
  ip: string | null;
}

/** ASSUMED shapes below: console sessions, alerts, hosts and backups are not pinned by the contract yet. */
export interface ConsoleSession {
  id: string;
  vm_uuid: string;
  vm_name?: string;
  user_id: string;
  username?: string;
  started_at: string;
  bytes_in?: number;
  bytes_out?: number;
}

/** GET /api/alerts item, as implemented in src/modules/alerts/alerts.schemas.ts. */
export interface Alert {
  fingerprint: string;
  alertname: string;
  status: 'firing' | 'resolved';
  severity: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  starts_at: string;
  ends_at: string | null;
  received_at: string;
  updated_at: string;
  receiver: string;
}

export interface Host {
  id: string;
  name: string;
  uri: string;
  state: string;
  vcpus_total?: number;
  vcpus_used?: number;
  memory_mb_total?: number;
  memory_mb_used?: number;
  vms?: number;
  draining?: boolean;
}

export interface Backup {
  id: string;
  state: 'running' | 'completed' | 'failed' | string;
  started_at: string;
  finished_at?: string | null;
  size_bytes?: number | null;
  file?: string | null;
  progress?: number | null; // 0..1
  error?: string | null;
}

export type QuotaDefaults = QuotaLimits;
export type QuotaPatch = Partial<QuotaLimits>;
export type UserQuota = Quota;
