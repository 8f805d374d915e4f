// The Prometheus registry and every metric of CONTRACT.md §6. One registry per app instance (tests
// build many apps in one process). Labelled counters are pre-initialised for every label value the
// contract lists, so a scrape right after start already shows them at 0.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const AUTH_FAILURE_REASONS = ['invalid_credentials', 'account_pending', 'rate_limited', 'invalid_token', 'expired_token'] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

export const QUOTA_RESOURCES = ['vms', 'vcpus', 'memory', 'disk', 'snapshots', 'running_vms', 'running_vcpus', 'running_memory'] as const;
export type QuotaMetricResource = (typeof QUOTA_RESOURCES)[number];

export const VM_STATES = ['creating', 'stopped', 'starting', 'running', 'paused', 'stopping', 'deleting', 'error', 'missing'] as const;
export const VM_ACTIONS = ['create', 'delete', 'start', 'shutdown', 'stop', 'reboot', 'reset', 'pause', 'resume', 'resize', 'media', 'boot_order', 'snapshot_create', 'snapshot_revert', 'snapshot_delete', 'migrate'] as const;
export const VM_ACTION_RESULTS = ['success', 'failure'] as const;

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  authFailures: Counter<'reason'>;
  quotaDenied: Counter<'resource'>;
  consoleActiveSessions: Gauge;
  hostCpu: Gauge;
  hostMemory: Gauge;
  hostDisk: Gauge;
  vmTotal: Gauge<'state'>;
  vmActions: Counter<'action' | 'result'>;
  vmActionDuration: Histogram<'action' | 'result'>;
  libvirtConnection: Gauge<'host'>;
  databaseUp: Gauge;
  buildInfo: Gauge<'version' | 'commit'>;
  loopRuns: Counter<'loop' | 'result'>;
  loopDuration: Histogram<'loop'>;
}

export function createMetrics(opts: { version: string; commit: string; defaultMetrics?: boolean }): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const r = [registry];

  const m: Metrics = {
    registry,
    httpRequests: new Counter({ name: 'http_requests_total', help: 'HTTP responses by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers: r }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    authFailures: new Counter({ name: 'auth_failure_total', help: 'Authentication failures by reason', labelNames: ['reason'], registers: r }),
    quotaDenied: new Counter({ name: 'vm_quota_denied_total', help: 'Requests refused by a quota, by resource', labelNames: ['resource'], registers: r }),
    consoleActiveSessions: new Gauge({ name: 'console_active_sessions', help: 'Open browser console (VNC) sessions', registers: r }),
    hostCpu: new Gauge({ name: 'host_cpu_usage_percent', help: 'Host CPU usage over the last sampling interval, percent', registers: r }),
    hostMemory: new Gauge({ name: 'host_memory_usage_percent', help: 'Host memory in use (total - available), percent', registers: r }),
    hostDisk: new Gauge({ name: 'host_disk_usage_percent', help: 'Usage of the filesystem holding LIMEN_DATA_DIR, percent', registers: r }),
    vmTotal: new Gauge({ name: 'vm_total', help: 'Virtual machines by state', labelNames: ['state'], registers: r }),
    vmActions: new Counter({ name: 'vm_action_total', help: 'VM actions by action and result', labelNames: ['action', 'result'], registers: r }),
    vmActionDuration: new Histogram({
      name: 'vm_action_duration_seconds',
      help: 'VM action duration by action and result',
      labelNames: ['action', 'result'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: r,
    }),
    libvirtConnection: new Gauge({ name: 'libvirt_connection_status', help: '1 when the libvirt connection to a host is up, else 0', labelNames: ['host'], registers: r }),
    databaseUp: new Gauge({ name: 'database_up', help: '1 when the database answered the last ping, else 0', registers: r }),
    buildInfo: new Gauge({ name: 'limen_build_info', help: 'LIMEN build information', labelNames: ['version', 'commit'], registers: r }),
    loopRuns: new Counter({ name: 'limen_loop_runs_total', help: 'Background loop ticks by loop and result', labelNames: ['loop', 'result'], registers: r }),
    loopDuration: new Histogram({ name: 'limen_loop_duration_seconds', help: 'Background loop tick duration', labelNames: ['loop'], registers: r }),
  };

  for (const reason of AUTH_FAILURE_REASONS) m.authFailures.inc({ reason }, 0);
  for (const resource of QUOTA_RESOURCES) m.quotaDenied.inc({ resource }, 0);
  for (const state of VM_STATES) m.vmTotal.set({ state }, 0);
  for (const action of VM_ACTIONS) for (const result of VM_ACTION_RESULTS) m.vmActions.inc({ action, result }, 0);
  m.consoleActiveSessions.set(0);
  m.databaseUp.set(0);
  m.buildInfo.set({ version: opts.version, commit: opts.commit }, 1);
  return m;
}
