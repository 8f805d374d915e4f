// One libvirt connection through @unraid/libvirt, kept honest:
// - connect() is single-flight: concurrent callers share one attempt;
// - every call runs under a timeout; a native call cannot be cancelled, so on timeout the
//   connection is treated as suspect: it is dropped (closed in the background) and reopened, and
//   status() reports 'disconnected' until the reopen succeeds;
// - a call failing with a connection error (libvirtd restarted, socket closed) does the same;
// - reconnects back off exponentially (250 ms doubling, capped at maxBackoffMs) until close();
// - status listeners hear every transition, so consumers resync after a reconnect.

import { Hypervisor } from '@unraid/libvirt';
import { HypervisorError, toHypervisorError } from '../errors.js';
import type { ConnectionStatus, HypervisorLogger } from '../hypervisor.js';
import { withTimeout } from '../timeout.js';

export interface ConnectionOptions {
  uri: string;
  callTimeoutMs: number;
  connectTimeoutMs: number;
  maxBackoffMs: number;
  logger?: HypervisorLogger;
}

export class LibvirtConnection {
  private hv: Hypervisor | null = null;
  private connecting: Promise<Hypervisor> | null = null;
  private state: ConnectionStatus = 'disconnected';
  private closed = true;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private backoffMs = 250;
  private readonly listeners = new Set<(s: ConnectionStatus) => void>();

  constructor(private readonly opts: ConnectionOptions) {}

  status(): ConnectionStatus {
    return this.state;
  }

  isClosed(): boolean {
    return this.closed;
  }

  onChange(cb: (s: ConnectionStatus) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private setState(s: ConnectionStatus): void {
    if (s === this.state) return;
    this.state = s;
    this.opts.logger?.info({ uri: this.opts.uri, status: s }, 'libvirt connection status changed');
    for (const cb of this.listeners) {
      try {
        cb(s);
      } catch (e) {
        this.opts.logger?.error({ err: e }, 'libvirt connection listener failed');
      }
    }
  }

  /** Opens (or returns) the connection. Re-arms reconnection after close(). */
  async connect(): Promise<Hypervisor> {
    this.closed = false;
    return this.ensure();
  }

  private ensure(): Promise<Hypervisor> {
    if (this.closed) return Promise.reject(new HypervisorError('disconnected', `libvirt ${this.opts.uri}: connection closed`));
    if (this.hv) return Promise.resolve(this.hv);
    if (this.connecting) return this.connecting;
    const hv = new Hypervisor({ uri: this.opts.uri });
    const attempt = withTimeout(`connect ${this.opts.uri}`, this.opts.connectTimeoutMs, () => hv.connectOpen())
      .then(() => {
        if (this.closed) {
          hv.connectClose().catch(() => undefined);
          throw new HypervisorError('disconnected', `libvirt ${this.opts.uri}: closed while connecting`);
        }
        this.hv = hv;
        this.backoffMs = 250;
        this.setState('connected');
        return hv;
      })
      .catch((e: unknown) => {
        const err = toHypervisorError(e, `connect ${this.opts.uri}`);
        this.setState('disconnected');
        this.scheduleReconnect();
        throw new HypervisorError('disconnected', err.message, { cause: err });
      })
      .finally(() => {
        this.connecting = null;
      });
    this.connecting = attempt;
    return attempt;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.ensure().catch(() => undefined); // failure re-schedules itself
    }, wait);
    this.reconnectTimer.unref();
  }

  /** Forgets a connection that failed or timed out; the native handle is closed in the background. */
  private drop(reason: string): void {
    const old = this.hv;
    this.hv = null;
    if (old) {
      this.opts.logger?.warn({ uri: this.opts.uri, reason }, 'libvirt connection dropped; reconnecting');
      old.connectClose().catch(() => undefined);
    }
    this.setState('disconnected');
    this.scheduleReconnect();
  }

  /** Runs fn on the connection under the call timeout, mapping every failure to HypervisorError. */
  async call<T>(what: string, fn: (hv: Hypervisor) => Promise<T>, timeoutMs = this.opts.callTimeoutMs): Promise<T> {
    const hv = await this.ensure();
    try {
      return await withTimeout(what, timeoutMs, () => fn(hv));
    } catch (e) {
      const err = toHypervisorError(e, what);
      if ((err.kind === 'timeout' || err.kind === 'disconnected') && this.hv === hv) this.drop(`${what}: ${err.kind}`);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const pending = this.connecting;
    if (pending) await pending.catch(() => undefined);
    const hv = this.hv;
    this.hv = null;
    if (hv) await withTimeout('close', this.opts.connectTimeoutMs, () => hv.connectClose()).catch(() => undefined);
    this.setState('disconnected');
  }
}
