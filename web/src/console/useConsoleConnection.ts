// The connection behind the console view: a noVNC RFB session over LIMEN's websocket proxy.
// Each (re)connect asks POST /api/vms/{uuid}/console for a fresh single-use ticket; the server's
// close code decides whether to reconnect (lib/console-close.ts). Nothing here starts the VM.
//
// We open the WebSocket ourselves and hand it to noVNC because noVNC's `disconnect` event does
// not carry the close code, and the code is what tells "VM stopped" from "network blip".
import { useEffect, useRef, useState, type RefObject } from 'react';
import type RFB from '@novnc/novnc';
import { vms } from '../api/endpoints';
import { ApiError, describeError } from '../api/errors';
import { wsUrl } from '../api/events';
import { MAX_RECONNECTS, closeOutcome, reconnectDelayMs } from '../lib/console-close';

export type ConsolePhase = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ConsoleConnection {
  phase: ConsolePhase;
  message: string;
  /** The websocket close code of the last disconnect (shown and used by tests). */
  closeCode: number | null;
  rfb: RefObject<RFB | null>;
  reconnect: () => void;
}

export function useConsoleConnection(screen: RefObject<HTMLDivElement | null>, uuid: string, running: boolean, scale: boolean): ConsoleConnection {
  const rfb = useRef<RFB | null>(null);
  const [phase, setPhase] = useState<ConsolePhase>('idle');
  const [message, setMessage] = useState('');
  const [closeCode, setCloseCode] = useState<number | null>(null);
  const [generation, setGeneration] = useState(0); // bumped by the Reconnect button
  const scaleRef = useRef(scale);
  scaleRef.current = scale;

  useEffect(() => {
    if (!running) {
      setPhase('idle');
      return;
    }
    let cancelled = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const retryLater = (text: string) => {
      attempt += 1;
      setPhase('reconnecting');
      setMessage(text);
      timer = setTimeout(() => void connect(), reconnectDelayMs(attempt));
    };

    const connect = async (): Promise<void> => {
      setPhase(attempt === 0 ? 'connecting' : 'reconnecting');
      let Rfb: typeof RFB;
      let ticket: Awaited<ReturnType<typeof vms.console>>;
      try {
        // noVNC is loaded on demand: it is the largest dependency and only the console needs it.
        [{ default: Rfb }, ticket] = await Promise.all([import('@novnc/novnc'), vms.console(uuid)]);
      } catch (e) {
        if (cancelled) return;
        // No ticket: a network failure may pass; "not running", "not found" or a limit will not.
        if (e instanceof ApiError && e.status === 0 && attempt < MAX_RECONNECTS) return retryLater(describeError(e));
        setPhase('closed');
        setMessage(describeError(e));
        return;
      }
      if (cancelled || !screen.current) return;

      const ws = new WebSocket(wsUrl(ticket.ws_url), ['binary']);
      let closed: { code: number; reason: string } | null = null;
      // Registered before noVNC's own handler, so the code is known when its `disconnect` fires.
      ws.addEventListener('close', (e) => (closed = { code: e.code, reason: e.reason }));
      const r = new Rfb(screen.current, ws);
      r.scaleViewport = scaleRef.current;
      r.addEventListener('connect', () => {
        attempt = 0;
        setPhase('connected');
        setMessage('');
        setCloseCode(null);
        r.focus();
      });
      r.addEventListener('disconnect', () => {
        if (rfb.current === r) rfb.current = null;
        if (cancelled) return;
        const c = closed ?? { code: 1006, reason: '' };
        setCloseCode(c.code);
        const outcome = closeOutcome(c.code, c.reason, attempt);
        if (outcome.retry) return retryLater(outcome.message);
        setPhase('closed');
        setMessage(outcome.message || 'Disconnected.');
      });
      rfb.current = r;
    };

    void connect();
    return () => {
      cancelled = true;
      clearTimeout(timer);
      rfb.current?.disconnect();
      rfb.current = null;
    };
  }, [screen, uuid, running, generation]);

  useEffect(() => {
    if (rfb.current) rfb.current.scaleViewport = scale;
  }, [scale]);

  return { phase, message, closeCode, rfb, reconnect: () => setGeneration((g) => g + 1) };
}
