// HypervisorDriver over @unraid/libvirt (lifecycle, XML, lookups, node info) plus ExtraOps for
// what the binding lacks: virsh for daemon URIs, an in-process simulation for test:/// URIs.

import { DomainGetXMLDescFlags, type Domain, type Hypervisor } from '@unraid/libvirt';
import { HypervisorError } from '../errors.js';
import { usingDomain } from './domain-hold.js';
import {
  domainNameFor,
  isUuid,
  type BootDevice,
  type ChangeEffect,
  type ConnectionStatus,
  type ConsoleEndpoint,
  type DomainEvent,
  type DomainSpec,
  type DomainState,
  type DomainSummary,
  type HypervisorDriver,
  type HypervisorLogger,
  type MigrateOptions,
  type ShutdownOptions,
  type UnreadableDisk,
  type ShutdownResult,
} from '../hypervisor.js';
import { delay } from '../timeout.js';
import { LibvirtConnection } from './connection.js';
import { buildDomainXml, cdromOf, parseDomainXml, validateBootOrder } from './domain-xml.js';
import { summarizeDomains } from './domain-list.js';
import { createSlots, START_SLOTS, startConfirmed } from './start-outcome.js';
import { EventHub } from './events.js';
import { isActive, type ExtraOps, type OpsContext } from './ops.js';
import { createQemuOps, stateFromNumber } from './qemu-ops.js';
import { createSimulatedOps } from './simulated-ops.js';
import { createVirsh } from './virsh.js';
import { createQemuStorage } from './qemu-storage.js';
import { setBootOrderInXml } from './xml-edit.js';

export interface LibvirtDriverOptions {
  /** libvirt URI: qemu:///system, qemu:///session, qemu+ssh://…, test:///default … */
  uri: string;
  logger?: HypervisorLogger;
  /** bound on every ordinary call (default 15 s) */
  callTimeoutMs?: number;
  /** bound on opening the connection (default 10 s) */
  connectTimeoutMs?: number;
  /** after a start call timed out: how long the domain is watched for running (default 45 s; start-outcome.ts) */
  startConfirmMs?: number;
  /** bound on snapshot create/revert/delete, which copy memory (default 120 s) */
  snapshotTimeoutMs?: number;
  /** state poll period (default 2 s; 500 ms for test:/// where the poll is the only event source) */
  pollIntervalMs?: number;
  /** reconnect and event-stream restart backoff cap (default 10 s) */
  maxBackoffMs?: number;
  virshPath?: string;
  /** test:/// only: VNC endpoint to report for a running domain (e.g. a fake RFB server in tests) */
  simulatedVnc?: (uuid: string) => ConsoleEndpoint | null;
}

function checkUuid(uuid: string): void {
  // A malformed id can never name a domain: not_found, like libvirt's own "Invalid UUID".
  if (!isUuid(uuid)) throw new HypervisorError('not_found', `domain not found: invalid UUID`);
}

export function createLibvirtDriver(options: LibvirtDriverOptions): HypervisorDriver {
  const uri = options.uri;
  const kind: 'qemu' | 'test' = uri.startsWith('test:') ? 'test' : 'qemu';
  const callTimeoutMs = options.callTimeoutMs ?? 15_000;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const virshPath = options.virshPath ?? 'virsh';
  const conn = new LibvirtConnection({
    uri,
    callTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    maxBackoffMs,
    logger: options.logger,
  });

  const withDomain = async <T>(what: string, uuid: string, fn: (hv: Hypervisor, d: Domain) => Promise<T>, timeoutMs?: number): Promise<T> => {
    checkUuid(uuid);
    return conn.call(
      `${what} ${uuid}`,
      async (hv) => {
        // held until the native call settles (see domain-hold.ts)
        return usingDomain(hv.domainLookupByUUIDString(uuid), (d) => fn(hv, d));
      },
      timeoutMs,
    );
  };

  const getState = async (uuid: string): Promise<DomainState> =>
    withDomain('state', uuid, async (hv, d) => stateFromNumber((await hv.domainGetInfo(d)).state));

  const getXml = (uuid: string, inactive: boolean): Promise<string> =>
    withDomain('xml', uuid, (hv, d) => hv.domainGetXMLDesc(d, inactive ? DomainGetXMLDescFlags.INACTIVE : DomainGetXMLDescFlags.NONE));

  const ctx: OpsContext = {
    call: (what, fn, timeoutMs) => conn.call(what, fn, timeoutMs),
    getState,
    inactiveXml: (uuid) => getXml(uuid, true),
    redefine: async (xml) => {
      await conn.call('redefine', (hv) => hv.domainDefineXML(xml));
    },
  };
  const virsh = createVirsh(uri, callTimeoutMs, virshPath);
  const ops: ExtraOps =
    kind === 'test' ? createSimulatedOps(ctx) : createQemuOps(virsh, options.snapshotTimeoutMs ?? 120_000, createQemuStorage(uri, virsh, virshPath));

  const startSlot = createSlots(START_SLOTS);
  /** domainCreate, at most START_SLOTS at once per host; a timed-out one is decided by the domain's state (start-outcome.ts). */
  const startDomain = (uuid: string): Promise<void> =>
    startSlot(() =>
      startConfirmed(() => withDomain('start', uuid, async (hv, d) => void (await hv.domainCreate(d))), {
        state: () => getState(uuid).catch(() => null),
        waitMs: options.startConfirmMs ?? 45_000,
      }),
    );

  const listDomains = async (): Promise<DomainSummary[]> =>
    conn.call('list domains', async (hv) => summarizeDomains(await hv.connectListAllDomains()));

  /** Never overwrite: the earlier implementation destroyed a VM that happened to share a name. */
  const ensureAbsent = async (uuid: string): Promise<void> => {
    const exists = await conn.call('define check', async (hv) => {
      for (const lookup of [() => hv.domainLookupByUUIDString(uuid), () => hv.domainLookupByName(domainNameFor(uuid))]) {
        try {
          await lookup();
          return true;
        } catch (e) {
          if (!/not found|no domain with matching/i.test(e instanceof Error ? e.message : String(e))) throw e;
        }
      }
      return false;
    });
    if (exists) throw new HypervisorError('invalid_state', `domain ${uuid} is already defined`);
  };

  const hub = new EventHub({
    listDomains,
    resolveName: (name) => conn.call('lookup name', async (hv) => (await usingDomain(hv.domainLookupByName(name), (d) => d.getUUIDString())).toLowerCase()),
    streamCommand: kind === 'test' ? null : { file: virshPath, args: ['-c', uri, 'event', '--all', '--loop', '--timestamp'] },
    pollIntervalMs: options.pollIntervalMs ?? (kind === 'test' ? 500 : 2000),
    maxBackoffMs,
    logger: options.logger,
  });
  // A reconnect means events may have been missed: poll at once (consumers also resync on it).
  conn.onChange((s) => {
    if (s === 'connected') hub.poke();
  });

  /** Runs a state-changing call, then pokes the poll so the event arrives even without a stream. */
  const act = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } finally {
      hub.poke();
    }
  };

  const driver: HypervisorDriver = {
    uri,
    kind,

    async connect() {
      await conn.connect();
      if (hub.hasSubscribers()) hub.start();
    },
    async close() {
      await hub.stop();
      await conn.close();
    },
    async ping(timeoutMs = 2000) {
      if (conn.isClosed()) return false;
      try {
        await conn.call('ping', (hv) => hv.nodeGetInfo(), timeoutMs);
        return true;
      } catch {
        return false;
      }
    },
    status: (): ConnectionStatus => conn.status(),
    onConnectionChange: (cb) => conn.onChange(cb),

    async defineDomain(spec: DomainSpec) {
      const xml = buildDomainXml(spec);
      await ensureAbsent(spec.uuid);
      await act(conn.call(`define ${spec.uuid}`, (hv) => hv.domainDefineXML(xml)));
    },
    async defineDomainXml(uuid, xml) {
      checkUuid(uuid);
      if (parseDomainXml(xml).uuid.toLowerCase() !== uuid.toLowerCase()) throw new HypervisorError('operation_failed', `define ${uuid}: the definition names another domain`);
      await ensureAbsent(uuid);
      await act(conn.call(`define ${uuid}`, (hv) => hv.domainDefineXML(xml)));
    },
    async unreadableDisks(uuid) {
      const out: UnreadableDisk[] = [];
      for (const d of parseDomainXml(await getXml(uuid, true)).disks) {
        if (d.source === null) continue; // an empty CD-ROM drive
        const error = await ops.diskError(uuid, { ...d, source: d.source });
        if (error !== null) out.push({ target: d.target, path: d.source, error });
      }
      return out;
    },
    async migrateLive(uuid, destUri, opts: MigrateOptions = {}) {
      checkUuid(uuid);
      await act(ops.migrateLive(uuid, destUri, { listenAddress: opts.listenAddress ?? '127.0.0.1', timeoutMs: opts.timeoutMs ?? 300_000, copyStorage: opts.copyStorage ?? false }));
    },
    storage: ops.storage,
    async exportSnapshots(uuid) {
      checkUuid(uuid);
      return ops.exportSnapshots(uuid);
    },
    async importSnapshots(uuid, snapshots) {
      await getState(uuid); // not_found first
      await ops.importSnapshots(uuid, snapshots);
    },
    async undefineDomain(uuid) {
      const s = await getState(uuid);
      if (isActive(s)) throw new HypervisorError('invalid_state', `undefine ${uuid}: domain is ${s}; destroy it first`);
      await act(ops.undefine(uuid));
    },
    start: (uuid) => act(startDomain(uuid)),
    async shutdown(uuid, opts: ShutdownOptions = {}): Promise<ShutdownResult> {
      await act(withDomain('shutdown', uuid, (hv, d) => hv.domainShutdown(d)));
      const waitMs = opts.waitMs ?? 0;
      if (waitMs <= 0) return 'requested';
      const deadline = Date.now() + waitMs;
      while (Date.now() < deadline) {
        if (!isActive(await getState(uuid))) return 'stopped';
        await delay(Math.min(250, Math.max(0, deadline - Date.now())));
      }
      return isActive(await getState(uuid)) ? 'timeout' : 'stopped';
    },
    destroy: (uuid) => act(withDomain('destroy', uuid, (hv, d) => hv.domainDestroy(d))),
    reboot: async (uuid) => {
      checkUuid(uuid);
      return act(ops.reboot(uuid));
    },
    reset: async (uuid) => {
      checkUuid(uuid);
      return act(ops.reset(uuid));
    },
    suspend: (uuid) => act(withDomain('suspend', uuid, (hv, d) => hv.domainSuspend(d))),
    resume: (uuid) => act(withDomain('resume', uuid, (hv, d) => hv.domainResume(d))),

    getState,
    listDomains,
    getDomainXml: (uuid, opts = {}) => getXml(uuid, opts.inactive === true),
    async getVncEndpoint(uuid) {
      const s = await getState(uuid);
      if (!isActive(s)) throw new HypervisorError('invalid_state', `console ${uuid}: domain is ${s}`);
      if (kind === 'test') return options.simulatedVnc?.(uuid) ?? null;
      // Read from the live XML every time: never guessed or scanned.
      const vnc = parseDomainXml(await getXml(uuid, false)).vnc;
      if (!vnc?.port) return null;
      return { host: vnc.listen && vnc.listen !== '0.0.0.0' ? vnc.listen : '127.0.0.1', port: vnc.port };
    },
    async getMedia(uuid) {
      const s = await getState(uuid);
      if (!isActive(s)) return cdromOf(parseDomainXml(await getXml(uuid, true)))?.source ?? null;
      return ops.liveMedia(uuid, parseDomainXml(await getXml(uuid, false)));
    },
    async changeMedia(uuid, isoPath): Promise<ChangeEffect> {
      if (isoPath !== null && (!isoPath.startsWith('/') || isoPath.includes('\0'))) {
        throw new HypervisorError('operation_failed', 'ISO path must be absolute');
      }
      const s = await getState(uuid);
      const inactive = parseDomainXml(await getXml(uuid, true));
      const live = isActive(s) ? parseDomainXml(await getXml(uuid, false)) : null;
      return act(ops.changeMedia(uuid, inactive, live, isoPath));
    },
    async setBootOrder(uuid, order: BootDevice[]) {
      validateBootOrder(order);
      const xml = setBootOrderInXml(await getXml(uuid, true), order);
      await act(ctx.redefine(xml));
      return isActive(await getState(uuid)) ? 'next_boot' : 'config';
    },
    async setVcpus(uuid, vcpus) {
      if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 512) throw new HypervisorError('operation_failed', 'vcpus must be an integer in 1..512');
      const s = await getState(uuid);
      return act(ops.setVcpus(uuid, parseDomainXml(await getXml(uuid, true)), isActive(s), vcpus));
    },
    async setMemory(uuid, memoryMb) {
      if (!Number.isInteger(memoryMb) || memoryMb < 16) throw new HypervisorError('operation_failed', 'memoryMb must be an integer >= 16');
      const s = await getState(uuid);
      return act(ops.setMemory(uuid, parseDomainXml(await getXml(uuid, true)), isActive(s), memoryMb));
    },

    async createSnapshot(uuid, opts) {
      await getState(uuid); // not_found first, before any name checks
      return act(ops.createSnapshot(uuid, opts.name, opts.description ?? ''));
    },
    async listSnapshots(uuid) {
      checkUuid(uuid);
      return ops.listSnapshots(uuid);
    },
    async revertSnapshot(uuid, name) {
      await getState(uuid);
      await act(ops.revertSnapshot(uuid, name));
    },
    async deleteSnapshot(uuid, name) {
      await getState(uuid);
      await ops.deleteSnapshot(uuid, name);
    },

    async domainStats(uuid) {
      checkUuid(uuid);
      return ops.domainStats(uuid);
    },
    async guestInfo(uuid) {
      if (!isActive(await getState(uuid))) return null;
      return ops.guestInfo(uuid);
    },
    async guestAddresses(uuid) {
      if (!isActive(await getState(uuid))) return null;
      return ops.guestAddresses(uuid);
    },
    async capacity() {
      const n = await conn.call('node info', (hv) => hv.nodeGetInfo());
      return { cpus: n.cpus, memoryMb: Math.floor(n.memory / 1024), model: n.model, mhz: n.mhz };
    },

    subscribe(cb: (e: DomainEvent) => void) {
      const unsub = hub.subscribe(cb);
      if (!conn.isClosed()) hub.start();
      return unsub;
    },
  };
  return driver;
}
