// A start that timed out has an unknown outcome: libvirt goes on with the job after we stop
// waiting. Under a start storm (a class of 20 linked clones started at once on 2 cores), domainCreate
// answered after the 15 s call timeout for 8 of 20 VMs, which were then reported as failed starts
// (state `error`) while their guests ran. The domain's own state decides instead.
//
// And starts wait their turn: libvirtd serves at most `max_client_requests` (default 5) calls of
// one connection at a time and queues the rest, and LIMEN has one connection per host. Twenty
// domainCreate calls in flight held every slot for tens of seconds, so even the quick state
// lookups of the same create flow waited past their 15 s timeout. At most START_SLOTS starts run
// at once per host; the other slots stay free for state, list and console lookups.

import type { DomainState } from '../hypervisor.js';
import { isHypervisorError } from '../errors.js';
import { delay } from '../timeout.js';

export interface StartConfirmation {
  /** the domain's state now; null when it cannot be read (the poll goes on) */
  state(): Promise<DomainState | null>;
  /** how long to watch after the timeout */
  waitMs: number;
  stepMs?: number;
}

/**
 * Runs `start`; on a timeout, watches the domain until it runs (the start succeeded: resolves) or
 * `waitMs` passes (rethrows the timeout). Any other error is rethrown at once.
 */
export async function startConfirmed(start: () => Promise<void>, confirm: StartConfirmation): Promise<void> {
  try {
    await start();
  } catch (err) {
    if (!isHypervisorError(err, 'timeout')) throw err;
    const deadline = Date.now() + confirm.waitMs;
    for (;;) {
      if ((await confirm.state()) === 'running') return;
      if (Date.now() >= deadline) throw err;
      await delay(Math.min(confirm.stepMs ?? 500, Math.max(0, deadline - Date.now())));
    }
  }
}

/** Starts in flight per host connection: under libvirtd's default max_client_requests (5). */
export const START_SLOTS = 3;

/** Runs at most `n` of the given jobs at once; the others wait, first come first served. */
export function createSlots(n: number): <T>(job: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (job) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await job();
    } finally {
      const next = waiting.shift();
      if (next) next(); // the slot passes on without being freed
      else running--;
    }
  };
}
