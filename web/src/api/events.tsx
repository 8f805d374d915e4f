// One /ws/events connection per signed-in tab, shared by every page through context. Browsers
// cannot set headers on a websocket, so the access token goes in the query string (the server
// must keep it out of its logs). The server sends a `snapshot` on connect and after it lost track
// of the hypervisor; subscribers then get `resync` and refetch, because events sent while we were
// away are lost. VM stats arrive only for VMs this tab `watch`es (the VM page).
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { parseAdminEvent, type AdminEvent } from '../lib/admin-events';
import { parseEventMessage, type VmEvent } from '../lib/vm-events';
import { getSession, refreshSession } from './session';
import type { Vm } from './types';

export type LiveStatus = 'connecting' | 'live' | 'offline';
type Listener = (ev: VmEvent<Vm> | { type: 'resync' }) => void;
/** Admin-only messages (alerts, backup progress); `resync` after every (re)connect, as for VMs. */
type AdminListener = (ev: AdminEvent | { type: 'resync' }) => void;

interface EventsApi {
  status: LiveStatus;
  subscribe: (fn: Listener) => () => void;
  subscribeAdmin: (fn: AdminListener) => () => void;
  /** Ask for `vm.stats` events of one VM until the returned function is called. */
  watch: (uuid: string) => () => void;
}

const EventsContext = createContext<EventsApi>({ status: 'offline', subscribe: () => () => undefined, subscribeAdmin: () => () => undefined, watch: () => () => undefined });

export function wsUrl(path: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${path}`;
}

export function EventsProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const listeners = useRef(new Set<Listener>());
  const adminListeners = useRef(new Set<AdminListener>());
  const watched = useRef(new Map<string, number>()); // uuid → how many components watch it
  const socket = useRef<WebSocket | null>(null);

  useEffect(() => {
    let ws: WebSocket | null = null;
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;

    const emit: Listener = (ev) => {
      for (const fn of listeners.current) fn(ev);
    };

    const connect = (): void => {
      const token = getSession().token;
      if (!token || stopped) return;
      setStatus('connecting');
      ws = new WebSocket(wsUrl(`/ws/events?token=${encodeURIComponent(token)}`));
      socket.current = ws;
      const self = ws;
      ws.onopen = () => {
        failures = 0;
        setStatus('live');
        // Watches do not survive a reconnect on the server: send them again.
        for (const uuid of watched.current.keys()) self.send(JSON.stringify({ type: 'watch', uuid }));
      };
      ws.onmessage = (m) => {
        const ev = parseEventMessage(m.data);
        if (ev) {
          emit(ev);
          if (ev.type === 'resync') for (const fn of adminListeners.current) fn(ev);
          return;
        }
        const admin = parseAdminEvent(m.data);
        if (admin) for (const fn of adminListeners.current) fn(admin);
      };
      ws.onclose = (e) => {
        ws = null;
        socket.current = null;
        if (stopped) return;
        setStatus('offline');
        failures += 1;
        // Back off to 15 s; a policy close (expired token) first gets a fresh token.
        const delay = Math.min(15_000, 500 * 2 ** Math.min(failures, 5));
        retry = setTimeout(() => {
          if (e.code === 1008 || e.code === 4401) void refreshSession().then(connect);
          else connect();
        }, delay);
      };
    };

    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      ws?.close(1000, 'page closed');
    };
  }, []);

  const value = useRef<EventsApi>({
    status,
    subscribe: (fn) => {
      listeners.current.add(fn);
      return () => listeners.current.delete(fn);
    },
    subscribeAdmin: (fn) => {
      adminListeners.current.add(fn);
      return () => adminListeners.current.delete(fn);
    },
    watch: (uuid) => {
      const send = (type: 'watch' | 'unwatch') => {
        if (socket.current?.readyState === WebSocket.OPEN) socket.current.send(JSON.stringify({ type, uuid }));
      };
      const n = watched.current.get(uuid) ?? 0;
      watched.current.set(uuid, n + 1);
      if (n === 0) send('watch');
      return () => {
        const left = (watched.current.get(uuid) ?? 1) - 1;
        if (left > 0) return void watched.current.set(uuid, left);
        watched.current.delete(uuid);
        send('unwatch');
      };
    },
  });
  value.current = { ...value.current, status };
  return <EventsContext.Provider value={value.current}>{children}</EventsContext.Provider>;
}

export function useLiveStatus(): LiveStatus {
  return useContext(EventsContext).status;
}

/** Call `fn` for every VM event (and `resync` on connect). `fn` may change between renders. */
export function useVmEvents(fn: Listener): void {
  const { subscribe } = useContext(EventsContext);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => subscribe((ev) => latest.current(ev)), [subscribe]);
}

/** Receive `vm.stats` events for this VM while the calling component is mounted. */
export function useWatchVm(uuid: string, enabled: boolean): void {
  const { watch } = useContext(EventsContext);
  useEffect(() => (enabled ? watch(uuid) : undefined), [watch, uuid, enabled]);
}

/** Call `fn` for every admin event (alerts, backups) and `resync` on every (re)connect: refetch then. */
export function useAdminEvents(fn: AdminListener): void {
  const { subscribeAdmin } = useContext(EventsContext);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => subscribeAdmin((ev) => latest.current(ev)), [subscribeAdmin]);
}
