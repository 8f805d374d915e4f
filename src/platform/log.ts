// pino options shared by the server and CLI. Secrets never reach a log line: credentials are
// redacted by path, and URLs lose their query values (console tickets travel in the query).
import type { LoggerOptions } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'password',
  'new_password',
  'current_password',
  'passwordHash',
  'password_hash',
  'token',
  'ticket',
  'access_token',
  'refresh_token',
  'secret',
  '*.password',
  '*.passwordHash',
  '*.password_hash',
  '*.token',
  '*.ticket',
  '*.access_token',
  '*.refresh_token',
  '*.secret',
];

/** Drops query values: `/ws/vnc/x?ticket=abc` → `/ws/vnc/x?ticket=[redacted]`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((kv) => `${kv.split('=')[0] ?? ''}=[redacted]`)
    .join('&');
  return `${url.slice(0, q)}?${params}`;
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      req(req: { method?: string; url?: string; id?: unknown; ip?: string }) {
        return { id: req.id, method: req.method, url: redactUrl(req.url ?? ''), ip: req.ip };
      },
    },
  };
}
