// Bounded calls. Every hypervisor call runs under withTimeout():
// - work that CAN be cancelled (child processes: virsh, qemu-img) receives the AbortSignal and is
//   killed when the timer fires, so nothing keeps running after the caller gave up;
// - work that CANNOT be cancelled (a native @unraid/libvirt call occupies a libuv thread until
//   libvirt returns) is raced against the timer: the caller gets a 'timeout' error at once, and the
//   connection layer treats the connection as suspect and reopens it (see connection.ts), which
//   makes libvirt fail the stuck call instead of letting it hang forever.
// The timer is always cleared, and a late result/rejection of the abandoned promise is swallowed.

import { HypervisorError } from './errors.js';

export async function withTimeout<T>(
  what: string,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
  parentSignal?: AbortSignal,
): Promise<T> {
  const ac = new AbortController();
  const onParentAbort = (): void => ac.abort(parentSignal?.reason);
  if (parentSignal?.aborted) throw new HypervisorError('timeout', `${what}: cancelled`);
  parentSignal?.addEventListener('abort', onParentAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new HypervisorError('timeout', `${what}: no answer within ${timeoutMs} ms`);
      reject(err); // settle first, so the race reports the timeout and not the abort it causes
      ac.abort(err);
    }, timeoutMs);
  });
  const cancelled = new Promise<never>((_, reject) => {
    ac.signal.addEventListener('abort', () => reject(new HypervisorError('timeout', `${what}: cancelled`)), { once: true });
  });
  const running = Promise.resolve().then(() => work(ac.signal));
  // The abandoned branch must never surface as an unhandled rejection.
  running.catch(() => undefined);
  cancelled.catch(() => undefined);
  try {
    return await Promise.race([running, timedOut, cancelled]);
  } finally {
    clearTimeout(timer);
    parentSignal?.removeEventListener('abort', onParentAbort);
  }
}

/** Sleeps ms; rejects early (as 'timeout'/cancelled) when signal aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new HypervisorError('timeout', 'cancelled'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new HypervisorError('timeout', 'cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
