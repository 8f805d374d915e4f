// A start that timed out has an unknown outcome: libvirt goes on with the job after we stop
// waiting. Under a start storm (a class of 20 linked clones started at once on 2 cores), domainCreate
// answered after the 15 s call timeout for 8 of 20 VMs, which were then reported as failed starts
// (state `error`) while their guests ran. The domain's own state decides instead.

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
