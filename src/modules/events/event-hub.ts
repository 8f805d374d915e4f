// Live VM events to browsers: per-user fan-out (admins see everything), a full snapshot on
// connect and on demand (libvirt reconnect), heartbeats, and slow-consumer protection: a client
// whose send buffer grows past the limit is dropped instead of slowing anyone else down. Sends
// never await, so one stuck socket cannot block the publisher.
import type { WebSocket } from 'ws';
import type { Principal } from '../../platform/http/principal.js';

export type VmEventType = 'vm.created' | 'vm.state' | 'vm.updated' | 'vm.deleted';

/** The minimum a published VM carries so the hub can route it. */
export interface RoutableVm {
  uuid: string;
  owner_id: string;
}

export interface EventHubOptions {
  /** bytes queued on one socket before it is dropped as a slow consumer */
  maxBufferedBytes?: number;
  heartbeatMs?: number;
  log: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

export interface EventHub {
  /** Attaches an authenticated socket: sends the snapshot, then live events. */
  attach(socket: WebSocket, principal: Principal): void;
  publish(type: VmEventType, vm: RoutableVm): void;
  /**
   * An operational event for admins only (e.g. backup.progress, alert.firing): `{type, ...payload}`
   * to every admin client. By default only this instance's (backup progress reports work running
   * here; admins of another instance read the same figures from the list). `cluster: true` also
   * sends it to the other instances (an alert arrives at whichever instance Alertmanager reached).
   */
  publishAdmin(type: string, payload: object, opts?: { cluster?: boolean }): void;
  /** vm.stats for the clients watching this VM. */
  publishStats(vm: RoutableVm, stats: object): void;
  /** Sends every client a fresh snapshot (after a libvirt reconnect or a reconcile that changed things). */
  resyncAll(): void;
  /** VMs some client currently watches (stats are sampled only for these). */
  watchedVms(): Set<string>;
  setSnapshotProvider(fn: (p: Principal) => Promise<RoutableVm[]>): void;
  /** Decides whether a principal may watch a VM's stats (ownership lives in the VM module). */
  setWatchAuthorizer(fn: (p: Principal, uuid: string) => Promise<boolean>): void;
  clientCount(): number;
  close(): void;
}

interface Client {
  socket: WebSocket;
  principal: Principal;
  alive: boolean;
  watching: Set<string>;
}

const OPEN = 1;

export function createEventHub(opts: EventHubOptions): EventHub {
  const maxBuffered = opts.maxBufferedBytes ?? 1024 * 1024;
  const clients = new Set<Client>();
  let snapshotOf: (p: Principal) => Promise<RoutableVm[]> = async () => [];
  let mayWatch: (p: Principal, uuid: string) => Promise<boolean> = async () => false;

  const sees = (c: Client, vm: RoutableVm): boolean => c.principal.role === 'admin' || c.principal.id === vm.owner_id;

  const drop = (c: Client, reason: string): void => {
    clients.delete(c);
    opts.log.warn({ user: c.principal.id, reason }, 'event client dropped');
    c.socket.terminate();
  };

  /**
   * A message is serialized once however many sockets receive it (2,000 subscribers of one event
   * cost one JSON.stringify, not 2,000). A failed write needs no callback: the socket's
   * 'error'/'close' handlers remove the client.
   */
  const encode = (msg: object): string => JSON.stringify(msg);
  const sendEncoded = (c: Client, data: string): void => {
    if (c.socket.readyState !== OPEN) return;
    if (c.socket.bufferedAmount > maxBuffered) return drop(c, 'slow consumer');
    c.socket.send(data);
  };
  const send = (c: Client, msg: object): void => sendEncoded(c, encode(msg));
  /** Sends to every client `to` accepts; encodes only if at least one does. */
  const broadcast = (to: (c: Client) => boolean, msg: object): void => {
    let data: string | undefined;
    for (const c of clients) if (to(c)) sendEncoded(c, (data ??= encode(msg)));
  };

  const sendSnapshot = (c: Client): void => {
    snapshotOf(c.principal).then(
      (vms) => send(c, { type: 'snapshot', vms }),
      (err: unknown) => opts.log.warn({ err }, 'event snapshot failed'),
    );
  };

  const heartbeat = setInterval(() => {
    for (const c of clients) {
      if (!c.alive) {
        drop(c, 'heartbeat timeout');
        continue;
      }
      c.alive = false;
      if (c.socket.readyState === OPEN) c.socket.ping();
    }
  }, opts.heartbeatMs ?? 20_000);
  heartbeat.unref();

  const onMessage = (c: Client, raw: unknown): void => {
    let msg: { type?: unknown; uuid?: unknown };
    try {
      msg = JSON.parse(String(raw)) as typeof msg;
    } catch {
      return;
    }
    if (typeof msg.uuid !== 'string' || msg.uuid.length > 64) return;
    const uuid = msg.uuid.toLowerCase();
    if (msg.type === 'unwatch') c.watching.delete(uuid);
    else if (msg.type === 'watch' && c.watching.size < 32) {
      // unauthorised watches are ignored silently: another user's VM does not exist for you
      void mayWatch(c.principal, uuid).then((ok) => ok && clients.has(c) && c.watching.add(uuid), () => undefined);
    }
  };

  return {
    attach(socket, principal) {
      const c: Client = { socket, principal, alive: true, watching: new Set() };
      clients.add(c);
      socket.on('pong', () => (c.alive = true));
      socket.on('message', (data) => onMessage(c, data));
      socket.on('close', () => clients.delete(c));
      socket.on('error', () => clients.delete(c));
      sendSnapshot(c);
    },
    publish(type, vm) {
      broadcast((c) => sees(c, vm), { type, vm });
    },
    publishAdmin(type, payload) {
      broadcast((c) => c.principal.role === 'admin', { ...payload, type });
    },
    publishStats(vm, stats) {
      broadcast((c) => c.watching.has(vm.uuid) && sees(c, vm), { type: 'vm.stats', vm: { uuid: vm.uuid }, stats });
    },
    resyncAll() {
      for (const c of clients) sendSnapshot(c);
    },
    watchedVms() {
      const out = new Set<string>();
      for (const c of clients) for (const u of c.watching) out.add(u);
      return out;
    },
    setSnapshotProvider(fn) {
      snapshotOf = fn;
    },
    setWatchAuthorizer(fn) {
      mayWatch = fn;
    },
    clientCount: () => clients.size,
    close() {
      clearInterval(heartbeat);
      for (const c of clients) c.socket.close(1001, 'server shutting down');
      clients.clear();
    },
  };
}
