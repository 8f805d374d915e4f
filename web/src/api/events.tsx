// One /ws/events connection per signed-in tab, shared by every page through context. Browsers
// cannot set headers on a websocket, so the access token goes in the query string (the server
// must keep it out of its logs). On every (re)connect subscribers are told to resync, because
// events sent while we were away are lost.
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import type { VmEvent } from '../lib/vm-events';
import { getSession, refreshSession } from './session';
import type { Vm } from './types';

export type LiveStatus = 'connecting' | 'live' | 'offline';
type Listener = (ev: VmEvent<Vm> | { type: 'resync' }) => void;

interface EventsApi { status: LiveStatus; subscribe: (fn: Listener) => () => void }

const EventsContext = createContext<EventsApi>({ status: 'offline', subscribe: () => () => undefined });

export function wsUrl(path: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${path}`;
}

export function EventsProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const listeners = useRef(new Set<Listener>());

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
      ws.onopen = () => {
        failures = 0;
        setStatus('live');
        emit({ type: 'resync' });
      };
      ws.onmessage = (m) => {
        try {
          const ev = JSON.parse(String(m.data)) as VmEvent<Vm>;
          if (ev && typeof ev.type === 'string' && ev.vm && typeof ev.vm.uuid === 'string') emit(ev);
        } catch {
          // Not an event we understand (a heartbeat, say): ignore.
        }
      };
      ws.onclose = (e) => {
        ws = null;
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
