// Connects the app to the default hypervisor host. Replaced by the full driver wiring when the
// hypervisor module lands; kept tiny on purpose.
import { Hypervisor } from '@unraid/libvirt';
import type { Config } from './config/config.js';
import type { HypervisorHealth } from './modules/system/index.js';
import { withTimeout } from './platform/db/db.js';

export async function createHypervisorHealth(config: Config): Promise<HypervisorHealth & { close(): Promise<void> }> {
  let hv: Hypervisor | undefined;
  let connecting: Promise<Hypervisor> | undefined;
  const connect = (): Promise<Hypervisor> => {
    connecting ??= (async () => {
      const h = new Hypervisor({ uri: config.libvirtUri });
      await h.connectOpen();
      hv = h;
      return h;
    })().finally(() => (connecting = undefined));
    return connecting;
  };
  return {
    uri: config.libvirtUri,
    hostName: 'default',
    simulated: config.libvirtUri.startsWith('test:'),
    async ping(ms) {
      try {
        const h = hv ?? (await withTimeout(connect(), ms, 'libvirt connect'));
        await withTimeout(h.connectGetHostname(), ms, 'libvirt ping');
        return true;
      } catch {
        hv = undefined;
        return false;
      }
    },
    async close() {
      await hv?.connectClose().catch(() => undefined);
    },
  };
}
