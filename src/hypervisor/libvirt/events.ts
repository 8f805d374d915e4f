// Lifecycle events for every URI: libvirt's push stream where one exists, completed by a state
// poll so that consumers see every change even when the stream is down, restarting, or absent.
//
// - Stream (qemu and remote URIs): `virsh -c <uri> event --all --loop --timestamp`, one line per
//   event, restarted with backoff when it exits (libvirtd restart, connection loss), killed on stop.
//   The binding has no event API; a test:/// connection lives inside this process, so an outside
//   virsh cannot see it: there the poll is the only source (plus a poke after each driver call).
// - Poll (every pollIntervalMs, and at once when poked): compares the domain list with the last
//   known state and synthesizes the events that were missed (source 'poll').
// - Both update one "known state" map, so an event is not delivered twice: a stream event that
//   does not change the known state is dropped, and a poll result older than a stream event for
//   the same domain is ignored for that domain (sequence numbers).

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  uuidFromDomainName,
  type DomainEvent,
  type DomainEventType,
  type DomainState,
  type DomainSummary,
  type HypervisorLogger,
} from '../hypervisor.js';

export interface ParsedEventLine {
  name: string;
  type: DomainEventType;
  detail: string;
  at: Date;
}

const LIFECYCLE: Record<string, DomainEventType> = {
  Defined: 'defined',
  Undefined: 'undefined',
  Started: 'started',
  Stopped: 'stopped',
  Suspended: 'suspended',
  Resumed: 'resumed',
  Shutdown: 'shutdown',
  Crashed: 'crashed',
  PMSuspended: 'pmsuspended',
};

const LINE_RE = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(\d{2}): event 'lifecycle' for domain '(.*)': (\w+)(?: (.*))?$/;

/** Parses one line of `virsh event --timestamp`; null for non-lifecycle or unknown lines. */
export function parseEventLine(line: string): ParsedEventLine | null {
  const m = LINE_RE.exec(line.trim());
  if (!m) return null;
  const [, date, time, tzh, tzm, name, kind, detail] = m;
  const type = LIFECYCLE[kind ?? ''];
  if (!type || name === undefined) return null;
  const at = new Date(`${date}T${time}${tzh}:${tzm}`);
  return { name, type, detail: (detail ?? '').trim(), at: Number.isNaN(at.getTime()) ? new Date() : at };
}

/** The state a lifecycle event leaves the domain in (undefined: unchanged / not implied). */
function impliedState(type: DomainEventType): DomainState | undefined {
  switch (type) {
    case 'started':
    case 'resumed':
      return 'running';
    case 'suspended':
      return 'paused';
    case 'stopped':
      return 'shutoff';
    case 'crashed':
      return 'crashed';
    case 'pmsuspended':
      return 'pmsuspended';
    case 'defined':
    case 'undefined':
    case 'shutdown':
      return undefined;
  }
}

/** The event a poll synthesizes for an observed transition. */
function transitionEvent(prev: DomainState, next: DomainState): DomainEventType | null {
  switch (next) {
    case 'running':
      return prev === 'paused' || prev === 'pmsuspended' ? 'resumed' : 'started';
    case 'paused':
      return 'suspended';
    case 'shutoff':
      return 'stopped';
    case 'shutdown':
      return 'shutdown';
    case 'crashed':
      return 'crashed';
    case 'pmsuspended':
      return 'pmsuspended';
    case 'nostate':
      return null;
  }
}

export interface EventHubOptions {
  listDomains: () => Promise<DomainSummary[]>;
  /** uuid of a domain by name, for names that are not `limen-<uuid>`; null when unknown */
  resolveName: (name: string) => Promise<string | null>;
  /** command for the push stream, or null (test:/// URIs) */
  streamCommand: { file: string; args: string[] } | null;
  pollIntervalMs: number;
  maxBackoffMs: number;
  logger?: HypervisorLogger;
}

const STARTING_GRACE_MS = 5000;

interface Known {
  name: string;
  state: DomainState;
}

export class EventHub {
  private readonly subs = new Set<(e: DomainEvent) => void>();
  private readonly known = new Map<string, Known>();
  private readonly lastStreamSeq = new Map<string, number>();
  /** since when a shut-off domain has been seen paused (QEMU starts paused, then resumes) */
  private readonly startingSince = new Map<string, number>();
  private seq = 0;
  private baseline = false;
  private running = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private pollAgain = false;
  private child: ChildProcess | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private streamBackoffMs = 500;

  constructor(private readonly opts: EventHubOptions) {}

  subscribe(cb: (e: DomainEvent) => void): () => void {
    this.subs.add(cb);
    return () => {
      this.subs.delete(cb);
    };
  }

  hasSubscribers(): boolean {
    return this.subs.size > 0;
  }

  isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.baseline = false;
    this.known.clear();
    this.startStream();
    this.schedulePoll(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.pollTimer = null;
    this.restartTimer = null;
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    }
    if (this.polling) await this.polling.catch(() => undefined);
  }

  /** Polls as soon as possible (after a driver call, a reconnect, or a stream restart). */
  poke(): void {
    if (!this.running) return;
    if (this.polling) this.pollAgain = true;
    else this.schedulePoll(0);
  }

  private emit(e: DomainEvent): void {
    for (const cb of this.subs) {
      try {
        cb(e);
      } catch (err) {
        this.opts.logger?.error({ err }, 'hypervisor event subscriber failed');
      }
    }
  }

  // ------------------------------------------------------------------ poll

  private schedulePoll(ms: number): void {
    if (!this.running) return;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.polling = this.pollOnce().finally(() => {
        this.polling = null;
        if (this.pollAgain) {
          this.pollAgain = false;
          this.schedulePoll(0);
        } else this.schedulePoll(this.opts.pollIntervalMs);
      });
    }, ms);
    this.pollTimer.unref();
  }

  private async pollOnce(): Promise<void> {
    const startSeq = this.seq;
    // The list shows the domains as they were when it was asked for: an action that lands while
    // the answer is on its way is newer than every event synthesized from it (consumers drop
    // events older than their last write).
    const at = new Date();
    let list: DomainSummary[];
    try {
      list = await this.opts.listDomains();
    } catch (err) {
      this.opts.logger?.debug({ err }, 'hypervisor state poll failed');
      return;
    }
    if (!this.running) return;
    const emitting = this.baseline;
    this.baseline = true;
    const seen = new Set<string>();
    const fresher = (uuid: string): boolean => (this.lastStreamSeq.get(uuid) ?? -1) > startSeq;
    for (const d of list) {
      seen.add(d.uuid);
      if (fresher(d.uuid)) continue;
      const prev = this.known.get(d.uuid);
      this.known.set(d.uuid, { name: d.name, state: d.state });
      if (!emitting) continue;
      const base = { uuid: d.uuid, name: d.name, detail: 'poll', source: 'poll' as const, at };
      if (!prev) {
        this.emit({ ...base, type: 'defined' });
        const t = transitionEvent('shutoff', d.state);
        if (d.state !== 'shutoff' && t) this.emit({ ...base, type: t });
      } else if (prev.state !== d.state) {
        // libvirt starts QEMU paused ("starting up") and resumes it: a shut-off domain seen paused
        // is starting, not suspended. Only a pause that lasts STARTING_GRACE_MS is reported.
        if (prev.state === 'shutoff' && d.state === 'paused') {
          const since = this.startingSince.get(d.uuid) ?? Date.now();
          this.startingSince.set(d.uuid, since);
          if (Date.now() - since < STARTING_GRACE_MS) {
            this.known.set(d.uuid, prev);
            continue;
          }
          this.emit({ ...base, type: 'started' });
        }
        this.startingSince.delete(d.uuid);
        const t = transitionEvent(prev.state, d.state);
        if (t) this.emit({ ...base, type: t });
      }
    }
    for (const [uuid, k] of [...this.known]) {
      if (seen.has(uuid) || fresher(uuid)) continue;
      this.known.delete(uuid);
      if (emitting) this.emit({ uuid, name: k.name, type: 'undefined', detail: 'poll', source: 'poll', at });
    }
  }

  // ------------------------------------------------------------------ stream

  private startStream(): void {
    const cmd = this.opts.streamCommand;
    if (!cmd || !this.running) return;
    const startedAt = Date.now();
    const child = spawn(cmd.file, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      stderr = (stderr + s).slice(-2000);
    });
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const ev = parseEventLine(line);
      if (ev) this.onStreamEvent(ev).catch((err: unknown) => this.opts.logger?.warn({ err }, 'hypervisor event handling failed'));
    });
    child.on('error', (err) => this.opts.logger?.warn({ err }, 'hypervisor event stream failed to start'));
    child.on('exit', (code, signal) => {
      rl.close();
      if (this.child === child) this.child = null;
      if (!this.running) return;
      if (Date.now() - startedAt > 10_000) this.streamBackoffMs = 500;
      const wait = this.streamBackoffMs;
      this.streamBackoffMs = Math.min(this.streamBackoffMs * 2, this.opts.maxBackoffMs);
      this.opts.logger?.warn({ code, signal, stderr: stderr.trim(), restartInMs: wait }, 'hypervisor event stream exited; restarting');
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        this.startStream();
        this.poke(); // whatever happened while the stream was down
      }, wait);
      this.restartTimer.unref();
    });
  }

  private async onStreamEvent(ev: ParsedEventLine): Promise<void> {
    let uuid = uuidFromDomainName(ev.name);
    if (!uuid) {
      uuid = [...this.known].find(([, k]) => k.name === ev.name)?.[0] ?? null;
    }
    if (!uuid && ev.type !== 'undefined') uuid = await this.opts.resolveName(ev.name).catch(() => null);
    if (!uuid || !this.running) {
      this.opts.logger?.debug({ name: ev.name, type: ev.type }, 'event for an unresolvable domain dropped');
      return;
    }
    this.lastStreamSeq.set(uuid, ++this.seq);
    const prev = this.known.get(uuid);
    const out: DomainEvent = { uuid, name: ev.name, type: ev.type, detail: ev.detail, source: 'libvirt', at: ev.at };
    if (ev.type === 'undefined') {
      if (!prev) return;
      this.known.delete(uuid);
      this.emit(out);
      return;
    }
    if (ev.type === 'defined') {
      if (!prev) this.known.set(uuid, { name: ev.name, state: 'shutoff' });
      else if (ev.detail === 'Added') return; // the poll reported it first
      this.emit(out);
      return;
    }
    // libvirt reports a start as "Resumed Unpaused" + "Started Booted": a resume is only a resume
    // from a paused domain.
    if (ev.type === 'resumed' && prev && prev.state !== 'paused' && prev.state !== 'pmsuspended') return;
    const next = impliedState(ev.type);
    if (next !== undefined) {
      if (prev && prev.state === next) return;
      this.known.set(uuid, { name: ev.name, state: next });
    }
    this.emit(out);
  }
}
