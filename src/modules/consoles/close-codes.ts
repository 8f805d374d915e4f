// Websocket close codes a UI can show (RFC 6455 private range 4000-4999), with their reasons.
export const CLOSE = {
  ticketInvalid: { code: 4000, reason: 'Console ticket is invalid, used or expired' },
  vmStopped: { code: 4001, reason: 'The virtual machine is not running' },
  sessionLimit: { code: 4002, reason: 'Too many open consoles' },
  idleTimeout: { code: 4003, reason: 'Closed after inactivity' },
  maxDuration: { code: 4004, reason: 'Maximum console session length reached' },
  endedByAdmin: { code: 4005, reason: 'Ended by an administrator' },
  vncUnavailable: { code: 4006, reason: 'The console of this machine is not reachable' },
  accountEnded: { code: 4007, reason: 'Your session has ended' },
  ticketRateLimited: { code: 4008, reason: 'Too many refused console tickets; try again in a minute' },
  tunnelFailed: { code: 4009, reason: "The SSH tunnel to this machine's host could not be opened" },
  consoleNotConfigured: { code: 4010, reason: 'Consoles on this host need VNC on a management network (not configured)' },
  vmMigrated: { code: 4011, reason: 'The virtual machine moved to another host; reconnect' },
  serverShutdown: { code: 1001, reason: 'Server is shutting down' },
} as const;

export type CloseKind = keyof typeof CLOSE;

/** The end_reason recorded for each way a session can close. */
export const END_REASON: Record<CloseKind | 'client_closed' | 'vnc_closed', string> = {
  ticketInvalid: 'ticket_invalid',
  vmStopped: 'vm_stopped',
  sessionLimit: 'session_limit',
  idleTimeout: 'idle_timeout',
  maxDuration: 'max_duration',
  endedByAdmin: 'admin_kill',
  vncUnavailable: 'vnc_unavailable',
  accountEnded: 'account_ended',
  ticketRateLimited: 'ticket_rate_limited',
  tunnelFailed: 'tunnel_failed',
  consoleNotConfigured: 'console_not_configured',
  vmMigrated: 'vm_migrated',
  serverShutdown: 'server_shutdown',
  client_closed: 'client_closed',
  vnc_closed: 'vnc_closed',
};
