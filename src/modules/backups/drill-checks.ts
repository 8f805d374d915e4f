// The drill's checks against the scratch instance. Each returns its evidence or throws (FAIL), or
// throws SkipStep when the feature it needs does not exist in this build.
import { relative, join } from 'node:path';
import { contentDigest, fileDigest } from './entry-content.js';
import type { DrillAccount } from './local-secrets.js';
import type { Manifest } from './manifest.js';
import { listTar, readEntryBuffer } from './tar.js';
import { mapDiskPath, type VmRow } from './vm-source.js';

/** A step that skips with a reason (feature not available): never counted as a pass or a failure. */
export class SkipStep extends Error {
  constructor(
    readonly reason: string,
    readonly evidence: Record<string, unknown> = {},
  ) {
    super(reason);
  }
}

export interface DrillContext {
  url: string;
  manifest: Manifest;
  archive: string;
  scratchDir: string;
  account: DrillAccount | undefined;
  token: string | undefined;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(ctx: DrillContext, method: string, path: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (ctx.token) headers.authorization = `Bearer ${ctx.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${ctx.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { raw: text.slice(0, 200) };
  }
  return { status: res.status, body: parsed };
}

/** A 404 from the router itself (no such route in this build), not "no such resource". */
const routeMissing = (a: Answer): boolean => a.status === 404 && typeof a.body.message === 'string' && a.body.message.startsWith('Route ');

export const mask = (s: string): string => (s.length <= 8 ? '***' : `${s.slice(0, 4)}…${s.slice(-4)} (${s.length} chars)`);

export async function checkHealth(ctx: DrillContext): Promise<Record<string, unknown>> {
  const a = await call(ctx, 'GET', '/api/health');
  if (a.status !== 200 || a.body.status !== 'ok' || a.body.db !== 'connected') throw new Error(`health answered ${a.status} ${JSON.stringify(a.body)}`);
  return { status: a.status, body: a.body };
}

export async function checkLogin(ctx: DrillContext): Promise<Record<string, unknown>> {
  if (!ctx.account) throw new Error('no drill account credentials in the live data dir (secrets/drill-account): take the backup with `limen drill` once');
  const a = await call(ctx, 'POST', '/api/auth/login', { username: ctx.account.username, password: ctx.account.password });
  if (a.status !== 200 || typeof a.body.access_token !== 'string') {
    throw new Error(`login as ${ctx.account.username} answered ${a.status} ${JSON.stringify(a.body)} (is the drill account in this backup?)`);
  }
  ctx.token = a.body.access_token;
  return { username: ctx.account.username, status: a.status, access_token: mask(ctx.token), user: a.body.user };
}

async function archivedVmRows(ctx: DrillContext): Promise<VmRow[]> {
  const entries = await listTar(ctx.archive);
  const rows: VmRow[] = [];
  for (const vm of ctx.manifest.vms) {
    const e = entries.find((x) => x.path === `vms/${vm.uuid}/vm.json`);
    if (e) rows.push(JSON.parse((await readEntryBuffer(ctx.archive, e)).toString('utf8')) as VmRow);
  }
  return rows;
}

const key = (v: Record<string, unknown>): string => JSON.stringify([v.uuid, v.name, v.owner_id, v.vcpus, v.memory_mb, v.disk_gb]);

export async function checkVmList(ctx: DrillContext): Promise<Record<string, unknown>> {
  const expected = (await archivedVmRows(ctx)).map((r) => key(r as unknown as Record<string, unknown>)).sort();
  let a = await call(ctx, 'GET', '/api/admin/vms?per_page=200');
  let route = '/api/admin/vms';
  if (routeMissing(a)) {
    a = await call(ctx, 'GET', '/api/vms?per_page=200');
    route = '/api/vms';
  }
  if (routeMissing(a)) {
    if (expected.length === 0) throw new SkipStep('this build has no VM API; the backup holds no VMs', { expected_vms: 0 });
    throw new Error(`the backup holds ${expected.length} VMs but the scratch instance has no VM API`);
  }
  if (a.status !== 200 || !Array.isArray(a.body.items)) throw new Error(`${route} answered ${a.status} ${JSON.stringify(a.body).slice(0, 300)}`);
  const got = (a.body.items as Record<string, unknown>[]).map(key).sort();
  const missing = expected.filter((k) => !got.includes(k));
  const extra = got.filter((k) => !expected.includes(k));
  if (missing.length > 0 || extra.length > 0) throw new Error(`VM lists differ: missing ${JSON.stringify(missing)}, unexpected ${JSON.stringify(extra)}`);
  return { route, compared: ['uuid', 'name', 'owner_id', 'vcpus', 'memory_mb', 'disk_gb'], vms: got.length };
}

export async function checkSnapshots(ctx: DrillContext): Promise<Record<string, unknown>> {
  const vms = ctx.manifest.vms;
  if (vms.length === 0) throw new SkipStep('the backup holds no VMs');
  const compared: Record<string, number> = {};
  for (const vm of vms) {
    const a = await call(ctx, 'GET', `/api/vms/${vm.uuid}/snapshots`);
    if (routeMissing(a)) throw new SkipStep('this build has no snapshot API', { snapshots_in_backup: vms.reduce((s, v) => s + v.snapshots, 0) });
    if (a.status !== 200 || !Array.isArray(a.body.items)) throw new Error(`snapshots of ${vm.uuid}: ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
    if (a.body.items.length !== vm.snapshots) throw new Error(`VM ${vm.uuid}: ${a.body.items.length} snapshots restored, ${vm.snapshots} in the backup`);
    compared[vm.uuid] = vm.snapshots;
  }
  return { snapshots_per_vm: compared };
}

export async function checkConsole(ctx: DrillContext): Promise<Record<string, unknown>> {
  const vm = ctx.manifest.vms[0];
  if (!vm) throw new SkipStep('the backup holds no VMs: no console to open');
  const a = await call(ctx, 'POST', `/api/vms/${vm.uuid}/console`, {});
  if (routeMissing(a)) throw new SkipStep('console feature not available in this build');
  if (a.status === 409) throw new SkipStep('not available on the scratch instance: its libvirt is untouched (test:///default), so no restored VM runs there', { status: a.status, error_code: a.body.error_code });
  if ((a.status !== 200 && a.status !== 201) || typeof a.body.ticket !== 'string') throw new Error(`console ticket: ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
  return { vm: vm.uuid, status: a.status, ticket: mask(a.body.ticket), ws_url: a.body.ws_url, expires_at: a.body.expires_at };
}

export async function checkDisk(ctx: DrillContext): Promise<Record<string, unknown>> {
  const vm = ctx.manifest.vms.find((v) => v.disks.length > 0);
  if (!vm) throw new SkipStep('the backup holds no VM disk');
  const disk = vm.disks[0]!;
  const restored = mapDiskPath(disk.original_path, ctx.manifest.data_dir, ctx.scratchDir);
  const listed = ctx.manifest.files.find((f) => f.path === disk.path);
  if (!listed) throw new Error(`disk ${disk.path} is not in the manifest`);
  const want = contentDigest(listed);
  const got = await fileDigest(restored, listed);
  if (got !== want) throw new Error(`restored disk ${restored} has digest ${got}, the source had ${want}`);
  return { vm: vm.uuid, disk: join('<scratch>', relative(ctx.scratchDir, restored)), digest: got, bytes: disk.size };
}
