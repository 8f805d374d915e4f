// The hosts module: several hypervisor hosts, each a libvirt URI. Public surface below; the app
// creates the registry and service (ctx.hosts) before the VM module, which places and routes by it.
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../../app.js';
import { startLeasedLoop } from '../../platform/loop.js';
import { registerHostRoutes } from './hosts.routes.js';
import { listHosts, seedDefaultHost } from './hosts.repo.js';
import type { HostsService } from './hosts.service.js';

export { createHostRegistry, DEFAULT_HOST, type HostRegistry } from './host-registry.js';
export { createHostsService, type HostsService, type HostCapacityView } from './hosts.service.js';
export { PLACEMENT_POLICIES, type PlacementPolicy } from './placement.js';

/** Seeds/updates the default host's row from the running driver and registers every other host. */
export async function prepareHosts(ctx: AppContext, hosts: HostsService, defaultUri: string): Promise<void> {
  await seedDefaultHost(ctx.database.db, defaultUri).catch((err: unknown) => ctx.log.error({ err, uri: defaultUri }, 'cannot record the default host URI (another host has it?)'));
  await hosts.registry.sync(await listHosts(ctx.database.db));
}

/** Routes and the per-instance watchdog (every host pinged; clients resynced when one comes or goes). */
export function registerHostsModule(ctx: AppContext, hosts: HostsService, opts: { watchEveryMs?: number } = {}): FastifyPluginAsync {
  return async (app) => {
    const watchdog = startLeasedLoop(ctx, {
      name: 'host-watchdog',
      everyMs: opts.watchEveryMs ?? 5_000,
      tick: async () => {
        // a host came or went: every client gets a fresh snapshot (host_reachable of its VMs)
        if (await hosts.watch()) ctx.events.resyncAll();
      },
    });
    const off = hosts.registry.onConnectionChange(() => void watchdog.kick());
    app.addHook('onClose', async () => {
      off();
      await watchdog.stop();
      await hosts.registry.close();
    });
    await app.register(registerHostRoutes(hosts));
  };
}
