// The browser console: a noVNC RFB session over LIMEN's websocket proxy. Each connection uses a
// fresh single-use ticket from POST /api/vms/{uuid}/console; a transient drop reconnects with a new
// ticket (a few times, backing off), and nothing here ever starts the VM.
import { useCallback, useEffect, useRef, useState } from 'react';
import type RFB from '@novnc/novnc';
import { describeError } from '../api/errors';
import { vms } from '../api/endpoints';
import { wsUrl } from '../api/events';
import { ClipboardBox } from './ClipboardBox';

type Phase = 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'failed';
const MAX_RETRIES = 4;

export function NoVncConsole({ uuid, running }: { uuid: string; running: boolean }) {
  const screen = useRef<HTMLDivElement>(null);
  const frame = useRef<HTMLDivElement>(null);
  const rfb = useRef<RFB | null>(null);
  const [phase, setPhase] = useState<Phase>('connecting');
  const [message, setMessage] = useState('');
  const [scale, setScale] = useState(true);
  const [generation, setGeneration] = useState(0); // bump to force a fresh connection
  const scaleRef = useRef(scale);
  scaleRef.current = scale;

  useEffect(() => {
    if (!running) return;
    let cancelled = false;
    let retries = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const connect = async () => {
      setPhase(retries === 0 ? 'connecting' : 'reconnecting');
      try {
        // Loaded on demand: noVNC is the largest dependency and only this tab needs it.
        const [{ default: Rfb }, ticket] = await Promise.all([import('@novnc/novnc'), vms.console(uuid)]);
        if (cancelled || !screen.current) return;
        const r = new Rfb(screen.current, wsUrl(ticket.ws_url), { wsProtocols: ['binary'] });
        r.scaleViewport = scaleRef.current;
        r.background = 'var(--console-bg)';
        r.addEventListener('connect', () => {
          retries = 0;
          setPhase('connected');
          setMessage('');
          r.focus();
        });
        r.addEventListener('securityfailure', (e) => {
          const d = (e as CustomEvent<{ reason?: string }>).detail;
          setMessage(d.reason ?? 'The VNC server refused the connection');
        });
        r.addEventListener('disconnect', (e) => {
          rfb.current = null;
          if (cancelled) return;
          const clean = (e as CustomEvent<{ clean: boolean }>).detail.clean;
          if (clean || retries >= MAX_RETRIES) {
            setPhase(clean ? 'disconnected' : 'failed');
            return;
          }
          retries += 1;
          setPhase('reconnecting');
          timer = setTimeout(() => void connect(), 500 * 2 ** retries);
        });
        rfb.current = r;
      } catch (e) {
        if (cancelled) return;
        // No ticket (VM not running, session limit…): the server's message says why; do not retry blindly.
        setPhase('failed');
        setMessage(describeError(e));
      }
    };
    void connect();
    return () => {
      cancelled = true;
      clearTimeout(timer);
      rfb.current?.disconnect();
      rfb.current = null;
    };
  }, [uuid, running, generation]);

  useEffect(() => {
    if (rfb.current) rfb.current.scaleViewport = scale;
  }, [scale]);

  const fullScreen = useCallback(() => {
    void frame.current?.requestFullscreen().then(() => rfb.current?.focus(), () => undefined);
  }, []);

  if (!running) {
    return <p className="notice">The console is available while the machine is running. Start it with the Start button above.</p>;
  }

  const connected = phase === 'connected';
  return (
    <div className="console">
      <div className="console-toolbar" role="toolbar" aria-label="Console controls">
        <span className={`console-status console-${phase}`} role="status" aria-live="polite">
          {PHASE_TEXT[phase]}
        </span>
        <button type="button" className="btn" disabled={!connected} onClick={() => rfb.current?.sendCtrlAltDel()}>
          Send Ctrl+Alt+Del
        </button>
        <label className="check">
          <input type="checkbox" checked={scale} onChange={(e) => setScale(e.target.checked)} /> Scale to fit
        </label>
        <button type="button" className="btn" onClick={fullScreen}>
          Full screen
        </button>
        {(phase === 'failed' || phase === 'disconnected') && (
          <button type="button" className="btn btn-primary" onClick={() => setGeneration((g) => g + 1)}>
            Reconnect
          </button>
        )}
      </div>
      {message && <p className="inline-error" role="alert">{message}</p>}
      <div className="console-frame" ref={frame}>
        <div className="console-screen" ref={screen} data-testid="console-screen" aria-label="Virtual machine screen" />
      </div>
      <ClipboardBox disabled={!connected} rfb={rfb} />
    </div>
  );
}

const PHASE_TEXT: Record<Phase, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Connection dropped — reconnecting…',
  disconnected: 'Disconnected',
  failed: 'Could not connect',
};
