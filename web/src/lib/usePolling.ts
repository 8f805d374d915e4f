// Re-run `fn` every `ms` while the tab is visible. Used only where the server has no event stream:
// host gauges (sampled by the server every 10 s) and snapshots still being taken; VM state, alerts
// and backup progress arrive over /ws/events.
import { useEffect, useRef } from 'react';

export function usePolling(fn: () => void, ms: number, enabled = true): void {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    if (!enabled) return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') latest.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms, enabled]);
}
