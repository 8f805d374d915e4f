// The fault tests' harness: a real LIMEN (`node bin/limen.js serve`: the build when there is one,
// as `npm test` makes it, else the sources) as a child process on
// its own PostgreSQL database and data dir, that a test can SIGKILL and start again on the same
// state; plus the checks every fault ends with — nothing lost or duplicated, the database,
// libvirt and the disk directory agreeing, quota usage exactly what the VMs add up to.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import type { HypervisorDriver } from '../../src/hypervisor/index.js';
import { freshServerDatabase } from '../helpers/db.js';
import { waitFor } from '../vms/vm-helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
export const ADMIN_PASSWORD = 'Fault-test-admin-pw-1';

/** A fresh database on the shared PostgreSQL server, with a small pool to look into it (dropped by drop()). */
export async function serverDatabase(prefix: string): Promise<{ url: string; query<T extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<T[]>; drop(): Promise<void> }> {
  const server = await freshServerDatabase(prefix);
  const pool = new pg.Pool({ connectionString: server.url, max: 2 });
  return {
    url: server.url,
    query: async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) => (await pool.query<T>(text, params)).rows,
    async drop() {
      await pool.end().catch(() => undefined);
      await server.drop();
    },
  };
}

export interface LimenChild {
  url: string;
  pid: number | undefined;
  start(): Promise<void>;
  /** SIGKILL: no shutdown hook runs, exactly like a crash or the OOM killer. */
  kill(): Promise<void>;
  /** Authenticated request as the bootstrap admin; the body parsed when JSON. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

export function limenChild(opts: { dataDir: string; databaseUrl: string; libvirtUri: string; env?: Record<string, string> }): LimenChild {
  let child: ChildProcess | undefined;
  let token = '';
  const self: LimenChild = {
    url: '',
    pid: undefined,
    async start() {
      const env = {
        ...process.env,
        LIMEN_DATA_DIR: opts.dataDir,
        DATABASE_URL: opts.databaseUrl,
        LIBVIRT_URI: opts.libvirtUri,
        LIMEN_VM_ACCEL: 'tcg',
        HOST: '127.0.0.1',
        PORT: '0',
        LIMEN_ADMIN_PASSWORD: ADMIN_PASSWORD,
        LOG_LEVEL: 'warn',
        ...opts.env,
      };
      const c = spawn(process.execPath, [join(ROOT, 'bin', 'limen.js'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
      child = c;
      self.pid = c.pid;
      self.url = await new Promise<string>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error('LIMEN did not start within 90 s')), 90_000);
        createInterface({ input: c.stdout }).on('line', (line) => {
          const m = /running at (http:\/\/\S+)/.exec(line);
          if (m) {
            clearTimeout(timer);
            ok(m[1]!);
          }
        });
        c.once('exit', (code, signal) => fail(new Error(`LIMEN exited early (code ${code}, signal ${signal})`)));
      });
      const r = await fetch(`${self.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
      assert.equal(r.status, 200, 'admin login after start');
      token = ((await r.json()) as { access_token: string }).access_token;
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
      child = undefined;
    },
    async api<T>(method: string, path: string, body?: unknown) {
      const r = await fetch(`${self.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await r.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (e.g. an empty 204)
      }
      return { status: r.status, body: parsed as T };
    },
  };
  return self;
}

/** Polls fn every 20 ms until it returns true (the hook point of a fault), at most ms. */
export async function whenTrue(what: string, fn: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  await waitFor(what, async () => (await fn()) || undefined, ms, 20);
}

interface VmItem {
  uuid: string;
  name: string;
  state: string;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
}

const LIBVIRT_STATE: Record<string, string> = { running: 'running', stopped: 'shutoff', paused: 'paused' };
const RUNNING = ['running', 'paused', 'starting', 'stopping'];

/**
 * Waits until no VM or snapshot is mid-operation, then asserts the invariants every fault test
 * ends with. Returns the VMs, for the caller's own expectations (e.g. how many).
 */
export async function assertConsistent(o: {
  child: LimenChild;
  db: { query<T extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<T[]> };
  outside: HypervisorDriver;
  dataDir: string;
  settleMs?: number;
}): Promise<VmItem[]> {
  const { child, db, outside, dataDir } = o;
  // settled: nothing mid-operation, and every VM's row shows what libvirt shows (a start that
  // timed out on a loaded machine may sit in 'error' until the reconciler's next look)
  const agree = async (): Promise<boolean> => {
    const busy = await db.query<{ n: number }>(`select (select count(*) from vms where state in ('creating', 'deleting', 'starting', 'stopping', 'error'))
      + (select count(*) from vm_snapshots where state <> 'ready') as n`);
    if (Number(busy[0]!.n) !== 0) return false;
    const rows = await db.query<{ uuid: string; state: string }>('select uuid::text as uuid, state from vms');
    const now = new Map((await outside.listDomains()).map((d) => [d.uuid, d.state]));
    return rows.every((r) => LIBVIRT_STATE[r.state] === now.get(r.uuid));
  };
  await waitFor('VMs and snapshots to settle', async () => (await agree()) || undefined, o.settleMs ?? 90_000, 250).catch(() => undefined);

  const list = await child.api<{ items: VmItem[]; total: number }>('GET', '/api/vms');
  assert.equal(list.status, 200);
  const vms = list.body.items;
  assert.equal(new Set(vms.map((v) => v.name)).size, vms.length, 'no duplicated VM names');
  assert.equal(new Set(vms.map((v) => v.uuid)).size, vms.length, 'no duplicated VMs');

  // libvirt: every VM has its domain in the state the database shows; no domain of this data dir without a row
  const domains = await outside.listDomains();
  const byUuid = new Map(domains.map((d) => [d.uuid, d]));
  let snapshotRows = 0;
  for (const vm of vms) {
    const d = byUuid.get(vm.uuid);
    assert.ok(d, `VM ${vm.name} has its libvirt domain`);
    assert.equal(LIBVIRT_STATE[vm.state], d.state, `VM ${vm.name}: database says ${vm.state}, libvirt ${d.state}`);
    const rows = await db.query<{ id: string }>(`select id::text as id from vm_snapshots where vm_uuid = $1 order by id`, [vm.uuid]);
    const inLibvirt = (await outside.listSnapshots(vm.uuid)).map((s) => s.name).sort();
    assert.deepEqual(inLibvirt, rows.map((r) => r.id).sort(), `VM ${vm.name}: libvirt snapshots = snapshot rows`);
    snapshotRows += rows.length;
  }
  const known = new Set(vms.map((v) => v.uuid));
  for (const d of domains) {
    if (known.has(d.uuid) || !d.name.startsWith('limen-')) continue;
    const xml = await outside.getDomainXml(d.uuid).catch(() => '');
    assert.ok(!xml.includes(join(dataDir, 'disks')), `orphan domain ${d.name} with a disk in this data dir`);
  }

  // the disk directory holds exactly the VMs' disks
  const disksDir = join(dataDir, 'disks');
  const disks = existsSync(disksDir) ? readdirSync(disksDir).sort() : [];
  assert.deepEqual(disks, vms.map((v) => `${v.uuid}.qcow2`).sort(), 'one disk per VM, no orphan disk');

  // quota usage is exactly what the VMs and snapshots add up to
  const q = await child.api<{ usage: Record<string, number> }>('GET', '/api/quota');
  assert.equal(q.status, 200);
  const sum = (f: (v: VmItem) => number, only?: (v: VmItem) => boolean) => vms.filter(only ?? (() => true)).reduce((a, v) => a + f(v), 0);
  const running = (v: VmItem) => RUNNING.includes(v.state);
  assert.deepEqual(
    { vms: q.body.usage.vms, vcpus: q.body.usage.vcpus, memory_mb: q.body.usage.memory_mb, disk_gb: q.body.usage.disk_gb, snapshots: q.body.usage.snapshots, running_vms: q.body.usage.running_vms },
    { vms: vms.length, vcpus: sum((v) => v.vcpus), memory_mb: sum((v) => v.memory_mb), disk_gb: sum((v) => v.disk_gb), snapshots: snapshotRows, running_vms: sum(() => 1, running) },
    'quota usage = what the VMs add up to',
  );
  return vms;
}
