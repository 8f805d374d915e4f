// The test app of the real two-host tests: the shared libvirtd as `default` (TCG guests, 1 s
// reconcile) and drivers for added hosts that give up on a dead daemon fast and retry often.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { poolNameFor } from '../../src/hypervisor/libvirt/qemu-storage.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import type { PrivateServices } from '../helpers/services.js';
import type { TestUser } from '../helpers/factories.js';
import { waitGone, waitState } from '../vms/vm-helpers.js';

export async function buildRealHostsApp(uri: string, callTimeoutMs: number): Promise<{ t: TestApp; driver: HypervisorDriver }> {
  const driver = createLibvirtDriver({ uri, pollIntervalMs: 500, callTimeoutMs });
  const t = await buildTestApp({
    driver,
    engine: process.env.LIMEN_TEST_PG_URL ? 'postgres' : 'pglite',
    env: { LIMEN_VM_ACCEL: 'tcg' },
    vmOptions: { shutdownTimeoutMs: 3_000, reconcileEveryMs: 1_000 },
    hostWatchEveryMs: 500,
    createHostDriver: (hostUri) => createLibvirtDriver({ uri: hostUri, pollIntervalMs: 500, callTimeoutMs, connectTimeoutMs: 3_000, maxBackoffMs: 1_000 }),
  });
  return { t, driver };
}

/**
 * Ends the transient storage pool a migration made over this app's disk directory on the shared
 * daemon (the storage probe runs at every move); otherwise it outlives the test's temp folder.
 */
export function dropDiskPool(uri: string, dataDir: string): void {
  spawnSync('virsh', ['-q', '-c', uri, 'pool-destroy', poolNameFor(join(dataDir, 'disks'))], { stdio: 'ignore' });
}

/**
 * The two-host tests' teardown: stops and deletes each VM the test made (through the API, so
 * disks on either host go too), closes the app and the default driver, drops the disk pool, and
 * always stops the second libvirtd.
 */
export async function tearDownRealHosts(s: { uri: string; t?: TestApp; driver?: HypervisorDriver; svc?: PrivateServices; owner?: TestUser; vms: string[] }): Promise<void> {
  try {
    const { t, owner } = s;
    if (t && owner)
      for (const uuid of s.vms) {
        await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/action`, headers: owner.auth, payload: { action: 'stop' } }).catch(() => undefined);
        await waitState(t.app, owner, uuid, 'stopped', 30_000).catch(() => undefined);
        await t.app.inject({ method: 'DELETE', url: `/api/vms/${uuid}`, headers: owner.auth });
        await waitGone(t.app, owner, uuid, 30_000).catch(() => undefined);
      }
    if (t) await t.close();
    await s.driver?.close();
    if (t) dropDiskPool(s.uri, t.dataDir);
  } finally {
    if (s.svc) {
      s.svc.run('libvirt-host2.sh', 'stop');
      s.svc.remove();
    }
  }
}
