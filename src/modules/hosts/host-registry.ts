// One hypervisor driver per host. The default host's driver is the one the app was started with
// (LIBVIRT_URI; tests pass their own); every other host gets a libvirt driver of its own, which
// connects with backoff and keeps reconnecting while the host is away. `sync` follows the hosts
// table, so hosts added or removed through another instance appear here on the next watchdog tick.
import type { ConnectionStatus, DomainEvent, HypervisorDriver } from '../../hypervisor/index.js';
import { unavailable } from '../../platform/http/app-error.js';

export const DEFAULT_HOST = 'default';

export interface HostRegistry {
  /** The driver of a host; UNAVAILABLE when this instance does not know the host. */
  driverFor(host: string): HypervisorDriver;
  has(host: string): boolean;
  names(): string[];
  /** The host's connection is up right now (as this instance sees it). */
  isUp(host: string): boolean;
  /** Adds drivers for new hosts and closes those of removed ones (never the default's). */
  sync(hosts: readonly { name: string; uri: string }[]): Promise<void>;
  /** A connecting driver for a host not yet in the table (add reads its capacity before the insert). */
  probe(uri: string): HypervisorDriver;
  /** Registers a probed driver under its host name (after the row was inserted). */
  adopt(name: string, uri: string, driver: HypervisorDriver): void;
  /** Every host's connection transitions, hosts added later included. */
  onConnectionChange(cb: (host: string, status: ConnectionStatus) => void): () => void;
  /** Every host's domain events, tagged with the host they came from. */
  subscribe(cb: (host: string, e: DomainEvent) => void): () => void;
  close(): Promise<void>;
}

interface Entry {
  uri: string;
  driver: HypervisorDriver;
  owned: boolean;
  unhook: (() => void)[];
}

export function createHostRegistry(opts: {
  defaultDriver: HypervisorDriver;
  createDriver: (uri: string) => HypervisorDriver;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}): HostRegistry {
  const entries = new Map<string, Entry>();
  const connListeners = new Set<(host: string, s: ConnectionStatus) => void>();
  const eventListeners = new Set<(host: string, e: DomainEvent) => void>();

  const hook = (name: string, e: Entry): void => {
    e.unhook.push(e.driver.onConnectionChange((s) => connListeners.forEach((cb) => cb(name, s))));
    if (eventListeners.size > 0) e.unhook.push(e.driver.subscribe((ev) => eventListeners.forEach((cb) => cb(name, ev))));
  };

  const add = (name: string, uri: string, driver: HypervisorDriver, owned: boolean): void => {
    const e: Entry = { uri, driver, owned, unhook: [] };
    entries.set(name, e);
    hook(name, e);
  };

  const drop = async (name: string): Promise<void> => {
    const e = entries.get(name);
    if (!e) return;
    entries.delete(name);
    e.unhook.forEach((u) => u());
    if (e.owned) await e.driver.close().catch(() => undefined);
  };

  const connectOwned = (uri: string): HypervisorDriver => {
    const d = opts.createDriver(uri);
    // a host that is down stays registered: the driver keeps retrying with backoff
    d.connect().catch((err: unknown) => opts.log.warn({ err, uri }, 'hypervisor host not reachable; will keep retrying'));
    return d;
  };

  add(DEFAULT_HOST, opts.defaultDriver.uri, opts.defaultDriver, false);

  return {
    driverFor(host) {
      const e = entries.get(host);
      if (!e) throw unavailable(`Hypervisor host ${host} is not connected to this instance`);
      return e.driver;
    },
    has: (host) => entries.has(host),
    names: () => [...entries.keys()],
    isUp: (host) => entries.get(host)?.driver.status() === 'connected',
    async sync(hosts) {
      const wanted = new Map(hosts.map((h) => [h.name, h.uri]));
      for (const [name, e] of [...entries]) {
        if (name === DEFAULT_HOST) continue;
        if (wanted.get(name) !== e.uri) await drop(name);
      }
      for (const [name, uri] of wanted) {
        if (name === DEFAULT_HOST || entries.has(name)) continue;
        opts.log.info({ host: name }, 'hypervisor host registered');
        add(name, uri, connectOwned(uri), true);
      }
    },
    probe: connectOwned,
    adopt(name, uri, driver) {
      if (entries.has(name)) void driver.close().catch(() => undefined);
      else add(name, uri, driver, true);
    },
    onConnectionChange(cb) {
      connListeners.add(cb);
      return () => connListeners.delete(cb);
    },
    subscribe(cb) {
      const first = eventListeners.size === 0;
      eventListeners.add(cb);
      if (first) for (const [name, e] of entries) e.unhook.push(e.driver.subscribe((ev) => eventListeners.forEach((l) => l(name, ev))));
      return () => eventListeners.delete(cb);
    },
    async close() {
      for (const name of [...entries.keys()]) await drop(name);
    },
  };
}
