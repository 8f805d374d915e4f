// The test app of the real two-host tests: the shared libvirtd as `default` (TCG guests, 1 s
// reconcile) and drivers for added hosts that give up on a dead daemon fast and retry often.
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';

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
