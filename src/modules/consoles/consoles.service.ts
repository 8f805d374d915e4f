// Console sessions: single-use tickets bound to user + VM + login, a per-instance registry of
// live sessions (console_active_sessions is its size), limits, idle/max-duration sweeps, admin
// kills (also across instances, through the database) and closing when a VM stops.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { AppContext } from '../../app.js';
import type { Principal } from '../../platform/http/principal.js';
import { invalidState, notFound } from '../../platform/http/app-error.js';
import { inTransaction } from '../../platform/db/query.js';
import { runLoop } from '../../platform/loop.js';
import { sql } from 'drizzle-orm';
import { audit } from '../audit/index.js';
import * as repo from './consoles.repo.js';
import { pump, pumpStreams, type Pump, type PumpCounters } from './console-proxy.js';
import { CLOSE, END_REASON, type CloseKind } from './close-codes.js';
import { createTicketThrottle } from './ticket-throttle.js';
import { vncRoute, type VncEndpoint, type VncRoute } from './vnc-route.js';
import { openSshTunnel, type SshTunnel } from './ssh-tunnel.js';

/** What the console needs from the VM module (wired in app.ts). */
export interface ConsoleVmAccess {
  /** The VM as the principal may see it (admins: any); throws NOT_FOUND otherwise. */
  getVm(principal: Principal, uuid: string): Promise<{ uuid: string; state: string; host: string }>;
  /**
   * The VNC address from the VM's live definition on its host (never scanned, never from the
   * client), with the host's libvirt URI when it is not this machine (vnc-route.ts decides how).
   */
  vncEndpoint(vm: { uuid: string; host: string }): Promise<VncEndpoint | null>;
  /** Calls back on every VM state change (to close consoles of stopped VMs). */
  onVmState(cb: (uuid: string, state: string) => void): () => void;
}

interface LiveSession {
  id: string;
  userId: string;
  vmUuid: string;
  startedAt: number;
  counters: PumpCounters;
  close(kind: CloseKind): void;
}

const hash = (t: string): string => createHash('sha256').update(t).digest('hex');

export function createConsolesService(ctx: AppContext, vms: ConsoleVmAccess) {
  const db = ctx.database.db;
  const limits = ctx.config.console;
  const instanceId = randomUUID();
  const live = new Map<string, LiveSession>();
  const gauge = (): void => ctx.metrics.consoleActiveSessions.set(live.size);
  const refusedTickets = createTicketThrottle();
  // ssh children of live sessions: the app's close waits for every one to be gone
  const tunnels = new Set<SshTunnel>();

  /** Where the bytes go; a malformed host URI is logged and ends as "not reachable". */
  const routeOf = (endpoint: VncEndpoint | null, vmUuid: string): VncRoute | null => {
    if (!endpoint) return null;
    try {
      return vncRoute(endpoint);
    } catch (err) {
      ctx.log.error({ err, vm: vmUuid }, 'console: cannot route to the VNC endpoint');
      return null;
    }
  };

  const closeWhere = (pred: (s: LiveSession) => boolean, kind: CloseKind): number => {
    let n = 0;
    for (const s of [...live.values()]) {
      if (!pred(s)) continue;
      s.close(kind);
      n++;
    }
    return n;
  };

  const unsubscribe = vms.onVmState((uuid, state) => {
    // a live migration ends the source's QEMU (and its VNC server): say so, the page reconnects to the new host
    if (state === 'migrated') closeWhere((s) => s.vmUuid === uuid, 'vmMigrated');
    else if (state !== 'running') closeWhere((s) => s.vmUuid === uuid, 'vmStopped');
  });

  // Idle and max-duration limits every tick (in memory). Database work is spaced out: with the
  // embedded database every query runs on this thread and would show up as console latency.
  let ticks = 0;
  const sweeper = runLoop({
    name: 'console-sweeper',
    everyMs: 2000,
    signal: ctx.shutdown,
    log: ctx.log,
    metrics: ctx.metrics,
    tick: async () => {
      const now = Date.now();
      ticks++;
      closeWhere((s) => now - s.counters.lastClientActivity > limits.idleTimeoutS * 1000, 'idleTimeout');
      closeWhere((s) => now - s.startedAt > limits.maxDurationS * 1000, 'maxDuration');
      if (live.size > 0 && ticks % 2 === 0) {
        // Ends requested through another instance (this instance's own are immediate).
        const kills = new Set(await repo.killRequested(db, instanceId));
        closeWhere((s) => kills.has(s.id), 'endedByAdmin');
      }
      if (live.size > 0 && ticks % 5 === 0) await repo.touchSessions(db, [...live.keys()]);
      if (ticks % 15 === 0) {
        await repo.endStaleSessions(db, 60);
        await repo.purgeTickets(db, new Date(now - 3600_000));
      }
    },
  });

  ctx.shutdown.addEventListener('abort', () => {
    unsubscribe();
    closeWhere(() => true, 'serverShutdown');
  });

  return {
    instanceId,
    stopped: sweeper.stopped,
    liveCount: () => live.size,
    /** Resolves when no console tunnel process is left (after the sessions were closed). */
    tunnelsGone: async (): Promise<void> => {
      await Promise.all([...tunnels].map((t) => t.exited));
    },

    /** Issues a single-use ticket for a running VM the caller may see. Never starts the VM. */
    async issueTicket(req: FastifyRequest, principal: Principal, uuid: string) {
      const vm = await vms.getVm(principal, uuid);
      if (vm.state !== 'running') throw invalidState(`The VM is ${vm.state}; start it to open its console`, { state: vm.state });
      const ticket = randomBytes(32).toString('base64url');
      const expiresAt = new Date(ctx.now().getTime() + limits.ticketTtlS * 1000);
      await repo.insertTicket(db, { tokenHash: hash(ticket), userId: principal.id, vmUuid: vm.uuid, sessionFamily: principal.sessionFamily, expiresAt });
      await audit(db, req, { action: 'console.ticket', targetType: 'vm', targetId: vm.uuid, result: 'success' });
      return { ws_url: `/ws/vnc/${vm.uuid}?ticket=${ticket}`, ticket, expires_at: expiresAt.toISOString() };
    },

    /**
     * Runs one console connection to its end. The ticket is checked (and spent) before any byte
     * reaches the VNC server; every failure closes the socket with a code the UI can show.
     */
    async serve(ws: WebSocket, req: FastifyRequest, vmUuid: string, ticket: string | undefined): Promise<void> {
      const closeWith = (kind: CloseKind): void => ws.close(CLOSE[kind].code, CLOSE[kind].reason);
      // An address spraying bad tickets is answered without a database lookup (ticket-throttle.ts).
      if (refusedTickets.blocked(req.ip)) {
        ctx.metrics.authFailures.inc({ reason: 'rate_limited' });
        return closeWith('ticketRateLimited');
      }
      const claim = ticket ? await repo.consumeTicket(db, hash(ticket), vmUuid, ctx.now()) : undefined;
      if (!claim) {
        refusedTickets.fail(req.ip);
        ctx.metrics.authFailures.inc({ reason: 'invalid_token' });
        return closeWith('ticketInvalid');
      }
      // The login behind the ticket must still be valid (logout or disable ends consoles too).
      let principal: Principal;
      try {
        principal = await ctx.auth.principalFor(claim.userId, claim.sessionFamily);
      } catch {
        return closeWith('accountEnded');
      }
      let vm: { uuid: string; state: string; host: string };
      try {
        vm = await vms.getVm(principal, vmUuid);
      } catch {
        return closeWith('ticketInvalid');
      }
      if (vm.state !== 'running') return closeWith('vmStopped');

      let sessionId: string;
      try {
        sessionId = await inTransaction(db, async (tx) => {
          await tx.execute(sql`select pg_advisory_xact_lock(7231993, hashtext(${principal.id}))`);
          if ((await repo.countOpen(tx, principal.id)) >= limits.maxPerUser) throw new Error('user_limit');
          if (live.size >= limits.maxTotal) throw new Error('total_limit');
          return repo.insertSession(tx, { userId: principal.id, username: principal.username, vmUuid, instanceId, clientIp: req.ip });
        });
      } catch (err) {
        if ((err as Error).message.endsWith('_limit')) return closeWith('sessionLimit');
        throw err;
      }

      const route = routeOf(await vms.vncEndpoint(vm).catch(() => null), vmUuid);
      const counters: PumpCounters = { toVm: 0, toClient: 0, lastClientActivity: Date.now() };
      let link: Pump | undefined;
      let tunnel: SshTunnel | undefined;
      let endKind: CloseKind | 'client_closed' | 'vnc_closed' = 'client_closed';
      const session: LiveSession = {
        id: sessionId,
        userId: principal.id,
        vmUuid,
        startedAt: Date.now(),
        counters,
        close(kind) {
          endKind = kind;
          ws.close(CLOSE[kind].code, CLOSE[kind].reason);
          link?.destroy();
          // A client that vanished without a close frame never answers: don't wait for it.
          setTimeout(() => ws.terminate(), 2000).unref();
        },
      };
      live.set(sessionId, session);
      gauge();
      await audit(db, req, { action: 'console.open', targetType: 'vm', targetId: vmUuid, result: 'success', details: { session_id: sessionId }, actor: principal });
      try {
        if (!route) {
          session.close('vncUnavailable');
          return;
        }
        if (route.kind === 'refused') {
          ctx.log.warn({ vm: vmUuid, host: vm.host, why: route.message }, 'console refused: remote VNC not reachable');
          session.close('consoleNotConfigured');
          return;
        }
        if (route.kind === 'ssh') {
          tunnel = openSshTunnel(route.argv);
          tunnels.add(tunnel);
          const t = tunnel;
          link = pumpStreams(ws, { output: t.output, input: t.input, destroy: () => t.destroy() }, counters);
        } else {
          link = pump(ws, route, counters);
        }
        // closed while connecting (the VM stopped, an admin ended it): end the new link too
        if (endKind !== 'client_closed') link.destroy();
        const end = await link.ended;
        if (end.by === 'vnc' && endKind === 'client_closed') {
          const exit = tunnel ? await tunnel.exited : undefined;
          if (tunnel && exit && counters.toClient === 0 && exit.code !== 0) {
            // ssh ended before a single VNC byte arrived: the tunnel never came up
            endKind = 'tunnelFailed';
            ctx.log.warn({ vm: vmUuid, host: vm.host, code: exit.code, signal: exit.signal, ssh: exit.stderr }, 'console: ssh tunnel failed');
            ws.close(CLOSE.tunnelFailed.code, CLOSE.tunnelFailed.reason);
          } else {
            endKind = 'vnc_closed';
            // QEMU closed the VNC socket: the VM stopped (or its console went away).
            ws.close(CLOSE.vmStopped.code, CLOSE.vmStopped.reason);
          }
        }
        link.destroy();
        if (ws.readyState === ws.OPEN) ws.close();
      } finally {
        if (tunnel) {
          tunnel.destroy();
          await tunnel.exited;
          tunnels.delete(tunnel);
        }
        live.delete(sessionId);
        gauge();
        await repo.endSession(db, sessionId, END_REASON[endKind], counters.toVm, counters.toClient).catch(() => undefined);
        await audit(db, req, {
          action: 'console.close',
          targetType: 'vm',
          targetId: vmUuid,
          result: 'success',
          details: { session_id: sessionId, reason: END_REASON[endKind], bytes_to_vm: counters.toVm, bytes_to_client: counters.toClient },
          actor: principal,
        }).catch(() => undefined);
      }
    },

    list: (f: { open?: boolean; limit: number; offset: number }) => repo.listSessions(db, f),

    /** Ends a session wherever it runs: here at once, on another instance at its next sweep. */
    async kill(req: FastifyRequest, id: string): Promise<void> {
      const row = await repo.findSession(db, id);
      if (!row) throw notFound('Console session');
      if (row.ended_at) throw invalidState('The console session has already ended');
      await repo.requestKill(db, id);
      live.get(id)?.close('endedByAdmin');
      await audit(db, req, { action: 'console.kill', targetType: 'console_session', targetId: id, result: 'success', details: { vm_uuid: row.vm_uuid, user_id: row.user_id } });
    },
  };
}

export type ConsolesService = ReturnType<typeof createConsolesService>;
