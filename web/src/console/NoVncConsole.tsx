// The browser console view: toolbar (status, Ctrl+Alt+Del, scaling, full screen, reconnect), the
// noVNC screen, and the paste box. Used by the VM page's console tab and the /console/{uuid} page.
import { useCallback, useRef, useState } from 'react';
import { ClipboardBox } from './ClipboardBox';
import { useConsoleConnection, type ConsolePhase } from './useConsoleConnection';

const PHASE_TEXT: Record<ConsolePhase, string> = {
  idle: 'Not running',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Connection dropped — reconnecting…',
  closed: 'Disconnected',
};

export function NoVncConsole({ uuid, running }: { uuid: string; running: boolean }) {
  const screen = useRef<HTMLDivElement>(null);
  const frame = useRef<HTMLDivElement>(null);
  const [scale, setScale] = useState(true);
  const { phase, message, closeCode, rfb, reconnect } = useConsoleConnection(screen, uuid, running, scale);

  const fullScreen = useCallback(() => {
    void frame.current?.requestFullscreen().then(() => rfb.current?.focus(), () => undefined);
  }, [rfb]);

  if (!running) {
    return <p className="notice">This machine is not running. Its console is available while it runs: start it first.</p>;
  }

  const connected = phase === 'connected';
  return (
    <div className="console" data-phase={phase} data-close-code={closeCode ?? undefined}>
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
        {phase === 'closed' && (
          <button type="button" className="btn btn-primary" onClick={reconnect}>
            Reconnect
          </button>
        )}
      </div>
      {message && (
        <p className={phase === 'closed' ? 'inline-error' : 'notice'} role="alert" data-testid="console-message">
          {message}
          {closeCode !== null && phase === 'closed' && <span className="muted"> (code {closeCode})</span>}
        </p>
      )}
      <div className="console-frame" ref={frame}>
        <div className="console-screen" ref={screen} data-testid="console-screen" aria-label="Virtual machine screen" />
      </div>
      <ClipboardBox disabled={!connected} rfb={rfb} />
    </div>
  );
}
