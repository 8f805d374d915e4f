// Login throttling rules (pure). Each key (an account or a client IP) may fail `threshold` times;
// every further failure locks the key for base·2^(n) seconds, capped. Failures older than the
// decay window are forgotten. While locked, no password is checked at all.

export interface ThrottleRule {
  threshold: number;
  baseLockS: number;
  maxLockS: number;
  decayS: number;
}

// An account locks sooner than an IP: a shared NAT (a classroom) must not lock everyone out
// because one student mistyped, and one attacker must not reach many guesses on one account.
export const ACCOUNT_RULE: ThrottleRule = { threshold: 5, baseLockS: 10, maxLockS: 900, decayS: 900 };
export const IP_RULE: ThrottleRule = { threshold: 30, baseLockS: 10, maxLockS: 900, decayS: 900 };

export interface ThrottleState {
  failures: number;
  lastFailureAt: Date;
  lockedUntil: Date | null;
}

/** Seconds the key stays locked at `now` (0 = not locked). */
export function lockRemainingS(state: ThrottleState | undefined, now: Date): number {
  if (!state?.lockedUntil) return 0;
  return Math.max(0, Math.ceil((state.lockedUntil.getTime() - now.getTime()) / 1000));
}

/** The state after one more failure at `now`. */
export function afterFailure(state: ThrottleState | undefined, rule: ThrottleRule, now: Date): ThrottleState {
  const stale = !state || now.getTime() - state.lastFailureAt.getTime() > rule.decayS * 1000;
  const failures = (stale ? 0 : state.failures) + 1;
  const over = failures - rule.threshold;
  const lockedUntil = over >= 0 ? new Date(now.getTime() + Math.min(rule.maxLockS, rule.baseLockS * 2 ** over) * 1000) : null;
  return { failures, lastFailureAt: now, lockedUntil };
}
