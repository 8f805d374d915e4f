// Typed hypervisor errors. @unraid/libvirt always reports code -1, and virsh only prints text, so
// the kind is derived from libvirt's (stable, English) message text. The original message is kept
// for logs; callers branch on `kind` only.

export type HypervisorErrorKind = 'not_found' | 'invalid_state' | 'operation_failed' | 'timeout' | 'disconnected';

export class HypervisorError extends Error {
  override readonly name = 'HypervisorError';
  constructor(
    readonly kind: HypervisorErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isHypervisorError(e: unknown, kind?: HypervisorErrorKind): e is HypervisorError {
  return e instanceof HypervisorError && (kind === undefined || e.kind === kind);
}

// Order matters: connection loss is checked first (a dead socket can surface in any call).
const CONNECTION_PATTERNS = [
  /invalid connection pointer/i,
  /cannot recv data/i,
  /cannot write data/i,
  /end of file while reading data/i,
  /client socket is closed/i,
  /failed to connect socket/i,
  /failed to connect to the hypervisor/i,
  /no connection driver available/i,
  /connection reset by peer/i,
  /broken pipe/i,
  /unable to connect to server/i,
  /no valid connection/i,
];
const NOT_FOUND_PATTERNS = [
  /domain not found/i,
  /no domain with matching/i,
  /invalid uuid/i,
  /snapshot not found/i,
  /no domain snapshot with matching name/i,
  /domain snapshot not found/i,
  /failed to get domain/i,
  /storage (volume|pool) not found/i,
  /no storage (vol|pool) with matching/i,
];
const INVALID_STATE_PATTERNS = [
  /already (running|active)/i,
  /is already running/i,
  /domain is not running/i,
  /\bnot running\b/i,
  /domain is not paused/i,
  /not paused/i,
  /requested operation is not valid/i,
  /operation is not valid/i,
  /domain is already/i,
  /already exists with uuid/i,
  /already exists/i,
  /cannot (delete|undefine) (inactive |active )?domain/i,
];

export function classifyLibvirtMessage(message: string): HypervisorErrorKind {
  if (CONNECTION_PATTERNS.some((re) => re.test(message))) return 'disconnected';
  if (/timed out during operation|timeout/i.test(message)) return 'timeout';
  if (NOT_FOUND_PATTERNS.some((re) => re.test(message))) return 'not_found';
  if (INVALID_STATE_PATTERNS.some((re) => re.test(message))) return 'invalid_state';
  return 'operation_failed';
}

/** Wraps anything thrown by the binding or virsh into a HypervisorError (idempotent). */
export function toHypervisorError(e: unknown, context: string): HypervisorError {
  if (e instanceof HypervisorError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new HypervisorError(classifyLibvirtMessage(message), `${context}: ${message}`, { cause: e });
}
