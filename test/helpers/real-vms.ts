// The real-QEMU tier's common setup (qemu:///system under scripts/test.sh, TCG, tiny guests
// booting the GRUB rescue CD): the URI check, a LIMEN on that libvirt with a user whose quota is
// lifted, the ISO in the library, a second "outside" connection, and a teardown that removes
// every domain the test made even when it failed. Used by test/vms/vm-real and
// test/templates/templates-real.
import assert from 'node:assert/strict';
import { createReadStream, existsSync } from 'node:fs';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import { buildTestApp, type TestApp, type TestAppOptions } from './app.js';
import { newAdmin, newUser, type TestUser } from './factories.js';
import { unlimitedQuota } from '../vms/vm-helpers.js';

export const GRUB_ISO = '/usr/lib/grub-rescue/grub-rescue-cdrom.iso';

/** The real libvirt URI, or undefined (the suite skips). With LIMEN_TEST_REAL=1 (CI) a missing URI or ISO fails loudly. */
export function realLibvirtUri(): string | undefined {
  const uri = process.env.LIMEN_TEST_LIBVIRT_URI;
  if (process.env.LIMEN_TEST_REAL === '1') {
    if (!uri) throw new Error('LIMEN_TEST_REAL=1 but LIMEN_TEST_LIBVIRT_URI is not set');
    if (!existsSync(GRUB_ISO)) throw new Error(`LIMEN_TEST_REAL=1 but ${GRUB_ISO} is missing (grub-rescue-pc)`);
  }
  return uri;
}

export interface RealVmStack {
  t: TestApp;
  /** LIMEN's own connection */
  driver: HypervisorDriver;
  /** a second connection, for looking from outside and for cleanup */
  outside: HypervisorDriver;
  user: TestUser;
  admin: TestUser;
  isoId: string;
  /** UUIDs of the VMs the test made: their domains are destroyed and undefined by close() */
  made: string[];
  close(): Promise<void>;
}

export async function startRealVmStack(uri: string, opts: { pollIntervalMs: number; callTimeoutMs?: number; app: Omit<TestAppOptions, 'driver'> }): Promise<RealVmStack> {
  const driver = createLibvirtDriver({ uri, pollIntervalMs: opts.pollIntervalMs, ...(opts.callTimeoutMs ? { callTimeoutMs: opts.callTimeoutMs, connectTimeoutMs: opts.callTimeoutMs } : {}) });
  const outside = createLibvirtDriver({ uri });
  await outside.connect();
  const t = await buildTestApp({ ...opts.app, driver, env: { LIMEN_VM_ACCEL: 'tcg', ...opts.app.env } });
  const [user, admin] = await Promise.all([newUser(t.app), newAdmin(t.app)]);
  await unlimitedQuota(t.app, admin, user.id);
  const up = await t.app.inject({ method: 'PUT', url: '/api/admin/isos/grub-rescue.iso', headers: { ...admin.auth, 'content-type': 'application/octet-stream' }, payload: createReadStream(GRUB_ISO) });
  assert.equal(up.statusCode, 201, up.body);
  const made: string[] = [];
  return {
    t,
    driver,
    outside,
    user,
    admin,
    isoId: up.json<{ id: string }>().id,
    made,
    async close() {
      if (driver.status() !== 'connected') await driver.connect().catch(() => undefined);
      for (const uuid of made) {
        await outside.destroy(uuid).catch(() => undefined);
        await outside.undefineDomain(uuid).catch(() => undefined);
      }
      await t.close();
      await driver.close();
      await outside.close();
    },
  };
}
