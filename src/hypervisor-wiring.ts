// Connects the app to the default hypervisor host: the libvirt driver for LIBVIRT_URI, the
// accelerator LIMEN_VM_ACCEL resolves to on this machine, and the health view /api/health uses.
import { accessSync, constants } from 'node:fs';
import type { Config } from './config/config.js';
import { createLibvirtDriver, type Accel, type HypervisorDriver, type HypervisorLogger } from './hypervisor/index.js';
import type { HypervisorHealth } from './modules/system/index.js';

/** 'auto' → kvm when /dev/kvm exists and can be opened read-write, else tcg (software emulation). */
export function resolveAccel(configured: Config['vmAccel'], kvmDevice = '/dev/kvm'): Accel {
  if (configured !== 'auto') return configured;
  try {
    accessSync(kvmDevice, constants.R_OK | constants.W_OK);
    return 'kvm';
  } catch {
    return 'tcg';
  }
}

/**
 * The default host's driver, connected. A libvirt that is down at start does not stop LIMEN:
 * health says degraded and the driver keeps reconnecting with backoff.
 */
export async function createDefaultDriver(config: Config, logger: HypervisorLogger): Promise<HypervisorDriver> {
  const driver = createLibvirtDriver({ uri: config.libvirtUri, logger });
  await driver.connect().catch((err: unknown) => logger.warn({ err, uri: config.libvirtUri }, 'libvirt not reachable at start; will keep retrying'));
  return driver;
}

export function healthOfDriver(driver: HypervisorDriver, hostName = 'default'): HypervisorHealth {
  return { uri: driver.uri, hostName, simulated: driver.kind === 'test', ping: (ms) => driver.ping(ms) };
}
