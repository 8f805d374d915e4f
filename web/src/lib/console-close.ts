// What the console does when its websocket closes: the server's close codes
// (src/modules/consoles/close-codes.ts) decide whether reconnecting can help and what to tell the
// person. Pure and import-free (tested in test/web/ui-logic.test.ts).

export interface CloseOutcome {
  /** Reconnect automatically (with a new ticket) — only when the cause is likely transient. */
  retry: boolean;
  /** Shown to the person; empty when nothing needs saying. */
  message: string;
}

/** Reconnect attempts in a row before giving up (each one asks for a fresh single-use ticket). */
export const MAX_RECONNECTS = 5;

const FINAL: Record<number, string> = {
  4001: 'The virtual machine is not running, so its console closed. Start it and reconnect.',
  4002: 'Too many consoles are open. Close another console (yours or on another tab) and reconnect.',
  4003: 'The console closed after a period of inactivity. Reconnect to continue.',
  4004: 'The console reached its maximum session length. Reconnect to continue.',
  4005: 'An administrator ended this console session.',
  4007: 'Your session has ended. Sign in again to open the console.',
  // Retrying would only extend the server's lockout.
  4008: 'Too many refused console tickets. Wait a minute, then reconnect.',
  // An operator has to configure the host first; retrying cannot change that.
  4010: "Consoles of machines on this host are not available: the host's VNC is not reachable from LIMEN. Ask an administrator.",
};

const TRANSIENT: Record<number, string> = {
  4000: 'The console ticket was refused (it may have expired on the way); getting a new one…',
  4006: 'The console of this machine is not reachable right now; retrying…',
  4009: "The SSH tunnel to this machine's host could not be opened; retrying…",
  1001: 'The server is restarting; reconnecting…',
  4011: 'The virtual machine moved to another host; reconnecting…',
};

/**
 * Decide after a close with `code`/`reason` when `attempt` reconnects have already failed in a row.
 * 1000 is a close we asked for. Unknown codes (1006: the network dropped, no close frame) are
 * treated as transient.
 */
export function closeOutcome(code: number, reason: string, attempt: number): CloseOutcome {
  if (code === 1000) return { retry: false, message: '' };
  const final = FINAL[code];
  if (final !== undefined) return { retry: false, message: final };
  const base = TRANSIENT[code] ?? `The connection dropped${reason ? ` (${reason})` : ''}; reconnecting…`;
  if (attempt >= MAX_RECONNECTS) {
    return { retry: false, message: `The console could not reconnect after ${MAX_RECONNECTS} attempts${reason ? `: ${reason}` : ''}. Use Reconnect to try again.` };
  }
  return { retry: true, message: base };
}

/** Delay before reconnect number `attempt` (1-based): 0.5 s, 1 s, 2 s, 4 s, then 8 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(8_000, 500 * 2 ** Math.max(0, attempt - 1));
}
