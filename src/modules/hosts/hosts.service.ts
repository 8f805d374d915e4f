// Hosts use cases: list with capacity and connection state, add (the URI must answer first),
// drain / undrain, remove (refused while VMs are on it), placement of new VMs, and the watchdog
// that keeps libvirt_connection_status{host} and each host's reachability up to date.
import type { FastifyRequest } from 'fastify';
import { statfs } from 'node:fs/promises';
import type { AppContext } from '../../app.js';
import type { HypervisorDriver } from '../../hypervisor/index.js';
import { AppError, conflict, notFound, unavailable, validationFailed } from '../../platform/http/app-error.js';
import { inTransaction, isUniqueViolation, type Queryable } from '../../platform/db/query.js';
import { audit } from '../audit/index.js';
import { consoleUriProblem } from '../consoles/index.js';
import { DEFAULT_HOST, type HostRegistry } from './host-registry.js';
import * as repo from './hosts.repo.js';
import { choosePlacement, roomAfter, type PlacementPolicy } from './placement.js';

export const HOST_NAME_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** libvirt URIs LIMEN accepts for a host: the QEMU driver (local, ssh, tls, tcp, unix socket) or the test driver. */
export const HOST_URI_RE = /^(qemu|test)(\+(ssh|libssh|libssh2|tls|tcp|unix))?:\/\/[^\s]*$/;

export interface HostCapacityView {
  cpus: number;
  memoryMb: number;
  cpuOvercommit: number;
  memoryOvercommit: number;
}

export interface HostsServiceOptions {
  registry: HostRegistry;
  policy: PlacementPolicy;
  /** The shared disk directory whose filesystem holds every host's VM disks (disk capacity). */
  disksDir: string;
  /** How long add waits for a new host's libvirt to answer (default 15 s). */
  connectWaitMs?: number;
}

async function waitConnected(d: HypervisorDriver, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (d.status() === 'connected' && (await d.ping(2000))) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

export type HostsService = ReturnType<typeof createHostsService>;

export function createHostsService(ctx: AppContext, opts: HostsServiceOptions) {
  const db = ctx.database.db;
  const { registry } = opts;
  const ratios = (h: repo.HostRecord) => ({ cpu: h.cpuOvercommit ?? ctx.config.cpuOvercommit, memory: h.memoryOvercommit ?? ctx.config.memoryOvercommit });

  async function diskGb(): Promise<number | null> {
    try {
      const s = await statfs(opts.disksDir);
      return Math.floor((s.blocks * s.bsize) / 1024 ** 3);
    } catch {
      return null;
    }
  }

  async function readCapacity(name: string, driver: HypervisorDriver): Promise<void> {
    const c = await driver.capacity();
    await repo.recordCapacity(db, name, { cpus: c.cpus, memoryMb: c.memoryMb, diskGb: await diskGb() });
  }

  const view = (h: repo.HostLoadRecord) => {
    const driver = registry.has(h.name) ? registry.driverFor(h.name) : undefined;
    const r = ratios(h);
    return {
      id: h.name,
      name: h.name,
      uri: h.uri,
      state: h.state,
      status: registry.isUp(h.name) ? ('connected' as const) : ('disconnected' as const),
      reachable: h.reachable,
      simulated: driver?.kind === 'test',
      capacity: h.cpus === null || h.memoryMb === null ? null : { vcpus: h.cpus, memory_mb: h.memoryMb, disk_gb: h.diskGb },
      overcommit: { cpu: r.cpu, memory: r.memory },
      allocatable: h.cpus === null || h.memoryMb === null ? null : { vcpus: Math.floor(h.cpus * r.cpu), memory_mb: Math.floor(h.memoryMb * r.memory) },
      allocated: { vms: h.vmCount, vcpus: h.usedVcpus, memory_mb: h.usedMemoryMb, disk_gb: h.usedDiskGb },
      last_seen_at: h.lastSeenAt?.toISOString() ?? null,
      created_at: h.createdAt.toISOString(),
    };
  };

  async function loadView(name: string) {
    const h = (await repo.listHostLoads(db)).find((x) => x.name === name);
    if (!h) throw notFound('Host');
    return view(h);
  }

  async function setState(req: FastifyRequest, name: string, state: repo.HostState) {
    const h = await repo.setHostState(db, name, state);
    if (!h) throw notFound('Host');
    await audit(db, req, { action: state === 'draining' ? 'host.drain' : 'host.undrain', targetType: 'host', targetId: name, result: 'success' });
    return loadView(name);
  }

  return {
    registry,
    async list() {
      return (await repo.listHostLoads(db)).map(view);
    },
    get: loadView,

    async add(req: FastifyRequest, input: { name: string; uri: string; cpu_overcommit?: number; memory_overcommit?: number }) {
      if (!HOST_NAME_RE.test(input.name)) throw validationFailed('name', 'host name: 1-32 of [a-z0-9-], starting with a letter or digit');
      if (!HOST_URI_RE.test(input.uri)) throw validationFailed('uri', 'uri must be a libvirt URI such as qemu:///system, qemu+ssh://user@host/system or qemu+tls://host/system');
      // the console's ssh tunnel takes user, host, port and keyfile= from this URI: refuse now what it would refuse later
      const consoleProblem = consoleUriProblem(input.uri);
      if (consoleProblem) throw validationFailed('uri', `consoles could not use this URI: ${consoleProblem}`);
      if (await repo.findHost(db, input.name)) throw conflict('A host with this name exists');
      if ((await repo.listHosts(db)).some((h) => h.uri === input.uri)) throw conflict('A host with this URI exists');
      const driver = registry.probe(input.uri);
      let adopted = false;
      try {
        if (!(await waitConnected(driver, opts.connectWaitMs ?? 15_000))) throw unavailable(`libvirt at that URI did not answer; check the URI and the host's libvirtd`);
        const c = await driver.capacity();
        await repo.insertHost(db, { name: input.name, uri: input.uri, cpuOvercommit: input.cpu_overcommit ?? null, memoryOvercommit: input.memory_overcommit ?? null }).catch((e: unknown) => {
          throw isUniqueViolation(e) ? conflict('A host with this name or URI exists') : e;
        });
        await repo.recordCapacity(db, input.name, { cpus: c.cpus, memoryMb: c.memoryMb, diskGb: await diskGb() });
        registry.adopt(input.name, input.uri, driver);
        adopted = true;
      } catch (e) {
        await audit(db, req, { action: 'host.add', targetType: 'host', targetId: input.name, result: 'failure', details: { error: (e as Error).message } }).catch(() => undefined);
        throw e;
      } finally {
        if (!adopted) await driver.close().catch(() => undefined);
      }
      await audit(db, req, { action: 'host.add', targetType: 'host', targetId: input.name, result: 'success', details: { uri: input.uri } });
      return loadView(input.name);
    },

    drain: (req: FastifyRequest, name: string) => setState(req, name, 'draining'),
    undrain: (req: FastifyRequest, name: string) => setState(req, name, 'active'),

    async remove(req: FastifyRequest, name: string) {
      if (name === DEFAULT_HOST) throw conflict('The default host comes from LIBVIRT_URI and cannot be removed');
      await inTransaction(db, async (tx) => {
        if (!(await repo.findHost(tx, name))) throw notFound('Host');
        const n = await repo.countVmsOnHost(tx, name);
        if (n > 0) throw conflict(`Host ${name} still has ${n} VM(s): migrate or delete them first`, { vms: n });
        await repo.deleteHost(tx, name);
        await audit(tx, req, { action: 'host.remove', targetType: 'host', targetId: name, result: 'success' });
      });
      await registry.sync(await repo.listHosts(db));
    },

    /**
     * Inside the create transaction: locks the host rows, then picks the host for a VM of this
     * size. UNAVAILABLE when no active host is reachable; a host that is full is still returned
     * (the capacity guard then refuses with the details of what is missing).
     */
    async place(tx: Queryable, size: { vcpus: number; memoryMb: number }): Promise<string> {
      const loads = await repo.listHostLoads(tx, { lock: true });
      const r = choosePlacement(
        loads.map((h) => ({ ...h, up: registry.isUp(h.name), cpuOvercommit: ratios(h).cpu, memoryOvercommit: ratios(h).memory })),
        size,
        opts.policy,
      );
      if (r.host === null) {
        throw r.reason === 'no_active_host'
          ? new AppError('HOST_CAPACITY_EXCEEDED', 'Every hypervisor host is draining: no host takes new VMs', { resource: 'hosts' })
          : unavailable('No hypervisor host is reachable right now; try again shortly');
      }
      return r.host;
    },

    /**
     * Inside a migration's transaction: the target must exist (404), take VMs (not draining: 409),
     * be reachable (503) and have room for the VM under the placement rules (409
     * HOST_CAPACITY_EXCEEDED). Locks the host rows like placement, so a create cannot fill the
     * room meanwhile. Returns the target's URI.
     */
    async checkMigrationTarget(tx: Queryable, name: string, size: { vcpus: number; memoryMb: number }): Promise<string> {
      const h = (await repo.listHostLoads(tx, { lock: true })).find((x) => x.name === name);
      if (!h) throw notFound('Host');
      if (h.state === 'draining') throw conflict(`Host ${name} is draining: it takes no VMs`);
      if (!registry.isUp(name)) throw unavailable(`Hypervisor host ${name} is not reachable right now`);
      const r = ratios(h);
      const room = roomAfter({ ...h, up: true, cpuOvercommit: r.cpu, memoryOvercommit: r.memory }, size);
      if (room && room.vcpus < 0) {
        const limit = Math.floor((h.cpus ?? 0) * r.cpu);
        throw new AppError('HOST_CAPACITY_EXCEEDED', `Host ${name} has no room for ${size.vcpus} more vCPUs (${h.usedVcpus} of ${limit} allocated)`, { resource: 'vcpus', host: name, limit, used: h.usedVcpus, requested: size.vcpus });
      }
      if (room && room.memoryMb < 0) {
        const limit = Math.floor((h.memoryMb ?? 0) * r.memory);
        throw new AppError('HOST_CAPACITY_EXCEEDED', `Host ${name} has no room for ${size.memoryMb} MiB more memory (${h.usedMemoryMb} of ${limit} MiB allocated)`, { resource: 'memory_mb', host: name, limit, used: h.usedMemoryMb, requested: size.memoryMb });
      }
      return h.uri;
    },

    /** A host's state for /api/health ('unknown' when the row cannot be read). */
    async stateOf(name: string): Promise<repo.HostState | 'unknown'> {
      return (await repo.findHost(db, name))?.state ?? 'unknown';
    },

    /** Every host but the default, for /api/health (which pings them). */
    async health() {
      return (await repo.listHosts(db))
        .filter((h) => h.name !== DEFAULT_HOST)
        .map((h) => {
          const driver = registry.has(h.name) ? registry.driverFor(h.name) : undefined;
          // the connection's own state: the watchdog pings, health stays cheap and never drops a connection
          return { name: h.name, state: h.state, simulated: driver?.kind === 'test', ping: () => Promise.resolve(driver?.status() === 'connected') };
        });
    },

    /**
     * Capacity and ratios for the capacity guard, read inside the caller's transaction (the
     * embedded database has one connection: a query outside it would wait for it forever).
     * Never reached yet: asked from libvirt directly (the watchdog records it).
     */
    async capacity(host: string, q: Queryable = db): Promise<HostCapacityView | undefined> {
      const h = await repo.findHost(q, host);
      if (!h) return undefined;
      const r = ratios(h);
      if (h.cpus !== null && h.memoryMb !== null) return { cpus: h.cpus, memoryMb: h.memoryMb, cpuOvercommit: r.cpu, memoryOvercommit: r.memory };
      if (!registry.isUp(host)) return undefined;
      const c = await registry.driverFor(host).capacity().catch(() => undefined);
      return c && { cpus: c.cpus, memoryMb: c.memoryMb, cpuOvercommit: r.cpu, memoryOvercommit: r.memory };
    },

    /**
     * One watchdog pass: follow the hosts table, ping every host, set
     * libvirt_connection_status{host}, record reachability changes (true when any changed) and
     * refresh capacity at most once a minute.
     */
    async watch(): Promise<boolean> {
      const rows = await repo.listHosts(db);
      await registry.sync(rows);
      let changed = false;
      await Promise.all(
        rows.map(async (h) => {
          if (!registry.has(h.name)) return;
          const driver = registry.driverFor(h.name);
          // A dead daemon or socket is seen by the driver itself (its event poll fails and it
          // drops the connection). The default host is pinged by the dependency probe already;
          // other hosts get a generous ping too, for a host that hangs without closing anything
          // (a short timeout would drop healthy connections on a busy machine).
          const ok = driver.status() === 'connected' && (h.name === DEFAULT_HOST || (await driver.ping(10_000)));
          ctx.metrics.libvirtConnection.set({ host: h.name }, ok ? 1 : 0);
          // The row already says so (the usual case): no statement. With the embedded database every
          // statement runs on the event loop, and this loop ticks every 5 s on every instance.
          if (h.reachable !== ok && (await repo.recordReachable(db, h.name, ok))) {
            changed = true;
            ctx.log[ok ? 'info' : 'warn']({ host: h.name }, ok ? 'hypervisor host reachable again' : 'hypervisor host unreachable');
          }
          const stale = h.cpus === null || !h.lastSeenAt || Date.now() - h.lastSeenAt.getTime() > 60_000;
          if (ok && stale) await readCapacity(h.name, driver).catch((err: unknown) => ctx.log.warn({ err, host: h.name }, 'reading host capacity failed'));
        }),
      );
      return changed;
    },
  };
}
