// Per-client-IP limit on refused console tickets. A ticket is 256 random bits, so guessing is
// hopeless, but every refused attempt still costs a websocket handshake and a database UPDATE:
// after MAX_FAILURES refusals in WINDOW_MS an address is answered with a close code at once,
// without touching the database, until its window ends. In-memory and per instance on purpose:
// it bounds work, it is not an account lockout.
export const TICKET_FAILURE_LIMIT = { maxFailures: 20, windowMs: 60_000 } as const;

// Above this many tracked addresses, expired windows are swept before adding another.
const MAX_TRACKED = 10_000;

export interface TicketThrottle {
  /** True while `ip` is over its limit (its attempts are refused without a ticket lookup). */
  blocked(ip: string): boolean;
  /** Records one refused ticket from `ip`. */
  fail(ip: string): void;
}

export function createTicketThrottle(opts: { maxFailures?: number; windowMs?: number; now?: () => number } = {}): TicketThrottle {
  const max = opts.maxFailures ?? TICKET_FAILURE_LIMIT.maxFailures;
  const windowMs = opts.windowMs ?? TICKET_FAILURE_LIMIT.windowMs;
  const now = opts.now ?? Date.now;
  const windows = new Map<string, { start: number; failures: number }>();

  const current = (ip: string): { start: number; failures: number } | undefined => {
    const w = windows.get(ip);
    if (w && now() - w.start >= windowMs) {
      windows.delete(ip);
      return undefined;
    }
    return w;
  };

  return {
    blocked: (ip) => (current(ip)?.failures ?? 0) >= max,
    fail(ip) {
      const w = current(ip);
      if (w) {
        w.failures++;
        return;
      }
      if (windows.size >= MAX_TRACKED) {
        const t = now();
        for (const [k, v] of windows) if (t - v.start >= windowMs) windows.delete(k);
        // Still full of live windows (a wide spray of addresses): forget the oldest entry.
        if (windows.size >= MAX_TRACKED) windows.delete(windows.keys().next().value as string);
      }
      windows.set(ip, { start: now(), failures: 1 });
    },
  };
}
