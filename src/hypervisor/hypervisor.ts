// The hypervisor port: everything LIMEN asks of a virtualization host. Modules (vms, consoles,
// snapshots, backups, hosts, health) depend on this interface only, never on libvirt itself, so
// tests can pass any implementation and a second adapter could be added without touching them.
//
// Identity: a domain is always addressed by its UUID (= the LIMEN VM UUID). Its libvirt name is
// `limen-<uuid>` (see domainNameFor); user-facing names live in the database and, escaped, in the
// domain <title>.
//
// Errors: every method rejects with HypervisorError (errors.ts) whose `kind` is one of not_found,
// invalid_state, operation_failed, timeout, disconnected. Every call is bounded by a timeout.

export type DomainState = 'running' | 'paused' | 'shutoff' | 'shutdown' | 'crashed' | 'pmsuspended' | 'nostate';

export type BootDevice = 'cdrom' | 'hd' | 'network';

export type Accel = 'kvm' | 'tcg';

/** How a configuration change took effect. */
export type ChangeEffect =
  /** the running guest sees it now (and it is persisted) */
  | 'live'
  /** persisted; the running guest sees it only after its next power cycle */
  | 'next_boot'
  /** the domain is not running; persisted and effective at its next start */
  | 'config';

export type NetworkSpec =
  /** QEMU user-mode networking (SLIRP): needs no bridge or root; the default. */
  | { type: 'user' }
  /** a libvirt virtual network, e.g. 'default' */
  | { type: 'network'; name: string }
  /** an existing host bridge */
  | { type: 'bridge'; name: string };

/** Everything needed to define a domain. The builder derives the libvirt name from `uuid`. */
export interface DomainSpec {
  uuid: string;
  /** user-facing name; any Unicode, stored escaped in <title> (newlines become spaces) */
  title?: string;
  description?: string;
  vcpus: number;
  /** hot-plug ceiling; defaults to vcpus */
  maxVcpus?: number;
  memoryMb: number;
  /** balloon ceiling; defaults to memoryMb */
  maxMemoryMb?: number;
  /** 'kvm' → <domain type='kvm'>, 'tcg' → <domain type='qemu'> */
  accel: Accel;
  /** default 'q35' */
  machine?: 'q35' | 'pc';
  /** absolute path of the qcow2 system disk (virtio); omit for a disk-less domain */
  diskPath?: string;
  /** absolute path of an ISO for the CD-ROM; a CD-ROM drive always exists so media can change later */
  isoPath?: string | null;
  /**
   * absolute path of a cloud-init NoCloud seed ISO (volume `cidata`), attached read-only as a
   * second CD-ROM after the media drive; omit for none
   */
  seedIsoPath?: string | null;
  /** default ['cdrom', 'hd'] */
  bootOrder?: BootDevice[];
  /** omit to let libvirt assign a unique MAC (recommended) */
  mac?: string;
  /** default { type: 'user' } */
  network?: NetworkSpec;
}

export interface DomainSummary {
  uuid: string;
  name: string;
  state: DomainState;
}

export interface ConsoleEndpoint {
  host: string;
  port: number;
}

export interface SnapshotInfo {
  name: string;
  description: string;
  /** domain state captured by the snapshot ('running' snapshots include memory) */
  state: DomainState;
  createdAt: Date;
}

export interface DomainStats {
  state: DomainState;
  /** cumulative guest CPU time, nanoseconds */
  cpuTimeNs: number;
  vcpus: number;
  /** current balloon size and ceiling, KiB */
  memoryKiB: number;
  maxMemoryKiB: number;
  /** cumulative over all block devices */
  blockReadBytes: number;
  blockWriteBytes: number;
  /** cumulative over all interfaces (0 for user-mode networking, which has no host-side device) */
  netRxBytes: number;
  netTxBytes: number;
  /** when the sample was taken: rates are computed by the caller from two samples */
  at: Date;
}

export interface GuestInfo {
  /** addresses reported by the QEMU guest agent, loopback excluded */
  interfaces: { name: string; mac: string | null; addresses: string[] }[];
}

/** Guest addresses and where libvirt learned them. */
export interface GuestAddresses {
  /** 'lease': the libvirt network's DHCP lease; 'agent': the QEMU guest agent in the guest */
  source: 'lease' | 'agent';
  /** IPv4/IPv6 addresses without prefix length, loopback and link-local excluded */
  addresses: string[];
}

export interface UnreadableDisk {
  /** the disk's target device (vda, sda …) */
  target: string;
  path: string;
  /** libvirt's reason, e.g. "Failed to open file '…': No such file or directory" */
  error: string;
}

export interface MigrateOptions {
  /** address the target's QEMU listens on for the migration stream (default 127.0.0.1) */
  listenAddress?: string;
  /**
   * the hosts do not share the disk directory: `--copy-storage-all` (QEMU mirrors every writable
   * disk over NBD into a volume of the same size pre-created on the target)
   */
  copyStorage?: boolean;
  /** bound on the whole migration (default 300 s); on timeout virsh is killed and libvirt aborts the job */
  timeoutMs?: number;
}

/** A file in a host's storage pool (a libvirt dir pool over one directory of that host). */
export interface VolumeInfo {
  name: string;
  /** 'qcow2', 'raw', 'iso' … as libvirt probed it from the content */
  format: string;
  /** guest-visible size */
  capacityBytes: number;
  /** size of the file itself (what a copy moves) */
  physicalBytes: number;
}

/** One end of a byte stream to or from a volume (`virsh vol-download` / `vol-upload` children). */
export interface VolumeDownload {
  stream: NodeJS.ReadableStream;
  /** settles when the transfer process ended: rejects with libvirt's reason */
  done: Promise<void>;
  abort(): void;
}
export interface VolumeUpload {
  stream: NodeJS.WritableStream;
  done: Promise<void>;
  abort(): void;
}

/**
 * A host's view of one directory through libvirt's storage API: how disks move between hosts that
 * do NOT share storage. The pool (type dir, named `limen-<hash of the path>`, or an existing pool
 * over the same path) is created on demand and idempotently; every lookup refreshes it first,
 * since LIMEN also writes files there outside libvirt.
 */
export interface HostStorage {
  /** Creates (transient, built) and starts the pool over `dir` when missing; returns its name. */
  ensurePool(dir: string): Promise<string>;
  /** null when this host has no such file in `dir` */
  volumeInfo(dir: string, name: string): Promise<VolumeInfo | null>;
  /**
   * New volume: `format`/`capacityBytes` as given (qcow2: an empty image of that virtual size;
   * raw with 0 bytes: an empty file an upload fills exactly). invalid_state when it exists.
   */
  createVolume(dir: string, name: string, opts: { format: 'qcow2' | 'raw'; capacityBytes: number }): Promise<void>;
  /** false when it did not exist */
  deleteVolume(dir: string, name: string): Promise<boolean>;
  download(dir: string, name: string): VolumeDownload;
  /** writes from offset 0 (libvirt does not truncate: upload into an empty volume) */
  upload(dir: string, name: string): VolumeUpload;
}

/** Snapshot definitions of one domain, for redefining them on another host. */
export interface SnapshotExport {
  /** parents before children; `xml` is opaque to callers (libvirt's snapshot XML with security info) */
  items: { name: string; xml: string }[];
  /** the current snapshot, null when none */
  current: string | null;
}

export interface HostCapacity {
  cpus: number;
  memoryMb: number;
  model: string;
  mhz: number;
}

export type DomainEventType =
  | 'defined'
  | 'undefined'
  | 'started'
  | 'stopped'
  | 'suspended'
  | 'resumed'
  | 'shutdown'
  | 'crashed'
  | 'pmsuspended';

export interface DomainEvent {
  uuid: string;
  name: string;
  type: DomainEventType;
  /** libvirt's detail ('Booted', 'Destroyed', 'Snapshot' …) or 'poll' for a synthesized event */
  detail: string;
  /** 'libvirt' = pushed by libvirt; 'poll' = a state change the periodic poll saw without an event */
  source: 'libvirt' | 'poll';
  at: Date;
}

export type ConnectionStatus = 'connected' | 'disconnected';

export interface ShutdownOptions {
  /** wait up to this long for the guest to power off (0 / omitted: only send the ACPI request) */
  waitMs?: number;
}

/** 'requested': ACPI sent, not waited; 'stopped': the guest powered off in time; 'timeout': it is still running. */
export type ShutdownResult = 'requested' | 'stopped' | 'timeout';

export interface HypervisorDriver {
  readonly uri: string;
  /** 'test' for libvirt's in-process test driver (test:///…): snapshots, stats and media are simulated. */
  readonly kind: 'qemu' | 'test';

  /** Opens the connection (single-flight: concurrent callers share one attempt). Also reopens after close(). */
  connect(): Promise<void>;
  /** Closes the connection, stops the event stream and the poll; status becomes 'disconnected'. */
  close(): Promise<void>;
  /** Really asks libvirt (node info) within timeoutMs; false when closed, down or slow. Never throws. */
  ping(timeoutMs?: number): Promise<boolean>;
  status(): ConnectionStatus;
  /** Called on every transition; a 'connected' after a 'disconnected' means: resync everything. */
  onConnectionChange(cb: (status: ConnectionStatus) => void): () => void;

  /** Defines a new persistent domain. invalid_state when the UUID or name already exists (never overwrites). */
  defineDomain(spec: DomainSpec): Promise<void>;
  /**
   * Defines a domain from a complete definition another host gave (cold migration keeps every
   * setting, MAC included). invalid_state when the UUID or name already exists here (never overwrites).
   */
  defineDomainXml(uuid: string, xml: string): Promise<void>;
  /**
   * The disk and CD-ROM sources of a defined domain that THIS host cannot open, with libvirt's
   * reason (a host without the shared disk directory). [] when every source is readable.
   */
  unreadableDisks(uuid: string): Promise<UnreadableDisk[]>;
  /**
   * Live migration to another libvirt host (`virsh migrate --live --persistent --undefinesource`):
   * the guest keeps running; on success it is defined and running on `destUri` only, on failure it
   * keeps running here. Disks on storage both hosts share, or copied with `copyStorage` into
   * volumes pre-created on the target. invalid_state on a simulated host (libvirt's test driver
   * cannot migrate).
   */
  migrateLive(uuid: string, destUri: string, opts?: MigrateOptions): Promise<void>;
  /** This host's storage pools (disk copies between hosts without shared storage). */
  readonly storage: HostStorage;
  /** Snapshot metadata of a domain (libvirt keeps it per host): parents first, current named. */
  exportSnapshots(uuid: string): Promise<SnapshotExport>;
  /** Redefines snapshots another host exported (`snapshot-create --redefine`), in order; the current flag kept. */
  importSnapshots(uuid: string, snapshots: SnapshotExport): Promise<void>;
  /** Removes the definition and its snapshot metadata (and NVRAM). invalid_state while it is active. */
  undefineDomain(uuid: string): Promise<void>;
  start(uuid: string): Promise<void>;
  /** Graceful (ACPI) power-off request; a guest may ignore it. */
  shutdown(uuid: string, opts?: ShutdownOptions): Promise<ShutdownResult>;
  /** Immediate power-off. */
  destroy(uuid: string): Promise<void>;
  reboot(uuid: string): Promise<void>;
  reset(uuid: string): Promise<void>;
  suspend(uuid: string): Promise<void>;
  resume(uuid: string): Promise<void>;

  getState(uuid: string): Promise<DomainState>;
  /** Every domain on the host (callers filter `limen-*`). */
  listDomains(): Promise<DomainSummary[]>;
  getDomainXml(uuid: string, opts?: { inactive?: boolean }): Promise<string>;
  /** VNC address read from the LIVE XML; null when the domain has no VNC port (e.g. test driver). invalid_state when not running. */
  getVncEndpoint(uuid: string): Promise<ConsoleEndpoint | null>;
  /** Current CD-ROM source (live view when running). */
  getMedia(uuid: string): Promise<string | null>;
  /** Inserts isoPath into the CD-ROM (or ejects with null): live + persistent when running. */
  changeMedia(uuid: string, isoPath: string | null): Promise<ChangeEffect>;
  /** Persistent boot order; a running guest sees it at its next boot. */
  setBootOrder(uuid: string, order: BootDevice[]): Promise<ChangeEffect>;
  /** Live within the domain's maximum when running, else persistent (raising the maximum). */
  setVcpus(uuid: string, vcpus: number): Promise<ChangeEffect>;
  setMemory(uuid: string, memoryMb: number): Promise<ChangeEffect>;

  /** Internal qcow2 snapshot; includes memory when the domain runs. Name: [A-Za-z0-9._-], 1-64. */
  createSnapshot(uuid: string, opts: { name: string; description?: string }): Promise<SnapshotInfo>;
  listSnapshots(uuid: string): Promise<SnapshotInfo[]>;
  /** Restores disk (and memory/run state when captured running). */
  revertSnapshot(uuid: string, name: string): Promise<void>;
  deleteSnapshot(uuid: string, name: string): Promise<void>;

  domainStats(uuid: string): Promise<DomainStats>;
  /** null when the guest runs no QEMU guest agent (or the domain is not running). */
  guestInfo(uuid: string): Promise<GuestInfo | null>;
  /**
   * `virsh domifaddr`: DHCP leases of libvirt networks first, then the guest agent. null when the
   * domain is not running or neither source knows an address (e.g. user-mode networking and no
   * agent, like the GRUB test guest, which has no network stack at all).
   */
  guestAddresses(uuid: string): Promise<GuestAddresses | null>;
  capacity(): Promise<HostCapacity>;

  /** Lifecycle events (pushed by libvirt, completed by a state poll). Returns unsubscribe. */
  subscribe(cb: (e: DomainEvent) => void): () => void;
}

/** pino-compatible subset; the driver never writes to the console. */
export interface HypervisorLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const DOMAIN_NAME_PREFIX = 'limen-';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function domainNameFor(uuid: string): string {
  return `${DOMAIN_NAME_PREFIX}${uuid.toLowerCase()}`;
}

/** The UUID encoded in a `limen-<uuid>` name, or null for any other domain. */
export function uuidFromDomainName(name: string): string | null {
  if (!name.startsWith(DOMAIN_NAME_PREFIX)) return null;
  const rest = name.slice(DOMAIN_NAME_PREFIX.length);
  return isUuid(rest) ? rest.toLowerCase() : null;
}
