// Crash safety: the real server runs as a child process on real PostgreSQL and real QEMU (the
// fault tests' harness, test/faults/limen-child.ts); it is SIGKILLed right after accepting a create
// and right after accepting a delete, restarted, and the reconciler must leave the created VM
// complete and the deleted one gone, with the database, libvirt and the disk directory agreeing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import { PG_URL } from '../helpers/db.js';
import { waitFor } from './vm-helpers.js';
import { limenChild, type LimenChild } from '../faults/limen-child.js';

const URI = process.env.LIMEN_TEST_LIBVIRT_URI;
const REAL = process.env.LIMEN_TEST_REAL === '1';
const skip = !URI || !PG_URL ? 'needs real libvirt and PostgreSQL (LIMEN_TEST_LIBVIRT_URI, LIMEN_TEST_PG_URL)' : false;
if (REAL && skip) throw new Error(`LIMEN_TEST_REAL=1 but the crash test cannot run: ${skip}`);

describe('crash safety: SIGKILL during create and delete', { skip, timeout: 200_000 }, () => {
  let dataDir: string;
  let dbUrl: string;
  let dbName: string;
  let outside: HypervisorDriver;
  let limen: LimenChild;
  const made = new Set<string>();
  const api = <T>(method: string, path: string, body?: unknown) => limen.api<T>(method, path, body);
  const row = async (uuid: string): Promise<{ state: string } | undefined> => {
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    try {
      return (await c.query<{ state: string }>('select state from vms where uuid = $1', [uuid])).rows[0];
    } finally {
      await c.end();
    }
  };
  /** complete (row in a settled state + domain + disk) or gone (none of the three) */
  const assertCompleteOrGone = async (uuid: string): Promise<'complete' | 'gone'> => {
    const settled = await waitFor('reconciler to settle the VM', async () => {
      const r = await row(uuid);
      return !r || !['creating', 'deleting'].includes(r.state) ? (r ?? null) : undefined;
    }, 60_000);
    const domain = (await outside.listDomains()).some((d) => d.uuid === uuid);
    const disk = existsSync(join(dataDir, 'disks', `${uuid}.qcow2`));
    if (settled === null) {
      assert.equal(domain, false, 'no domain without a row');
      assert.equal(disk, false, 'no disk without a row');
      return 'gone';
    }
    assert.ok(['running', 'stopped'].includes(settled.state), `settled state ${settled.state}`);
    assert.equal(domain, true, 'a complete VM has its domain');
    assert.equal(disk, true, 'a complete VM has its disk');
    return 'complete';
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'limen-crash-'));
    chmodSync(dataDir, 0o755);
    dbName = `limen_crash_${Date.now()}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    dbUrl = PG_URL!.replace(/\/[^/]*$/, `/${dbName}`);
    outside = createLibvirtDriver({ uri: URI! });
    await outside.connect();
    limen = limenChild({ dataDir, databaseUrl: dbUrl, libvirtUri: URI! });
    await limen.start();
  });

  after(async () => {
    await limen?.kill();
    for (const uuid of made) {
      await outside.destroy(uuid).catch(() => undefined);
      await outside.undefineDomain(uuid).catch(() => undefined);
    }
    await outside.close();
    rmSync(dataDir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  });

  test('killed right after accepting a create: restart finishes it', async () => {
    const r = await api<{ uuid: string }>('POST', '/api/vms', { name: 'crash-create', vcpus: 1, memory_mb: 64, disk_gb: 1, start: true });
    assert.equal(r.status, 202);
    const { uuid } = r.body;
    made.add(uuid);
    await limen.kill();
    const atKill = (await row(uuid))?.state;
    await limen.start();
    // accepted (202) = promised: an interrupted creation is finished, never rolled back
    assert.equal(await assertCompleteOrGone(uuid), 'complete', `killed in ${atKill}`);
  });

  test('killed right after accepting a delete: restart finishes the deletion', async () => {
    const created = await api<{ uuid: string }>('POST', '/api/vms', { name: 'crash-delete', vcpus: 1, memory_mb: 64, disk_gb: 1, start: true });
    const { uuid } = created.body;
    made.add(uuid);
    await waitFor('running', async () => (await row(uuid))?.state === 'running' || undefined, 60_000);
    const r = await api('DELETE', `/api/vms/${uuid}`);
    assert.equal(r.status, 202);
    await limen.kill();
    await limen.start();
    assert.equal(await assertCompleteOrGone(uuid), 'gone');
    assert.deepEqual(readdirSync(join(dataDir, 'disks')).filter((f) => f.includes(uuid)), []);
  });
});
