// Typed errors with stable codes (CONTRACT.md §3). Services throw these; one handler maps them.

export const ERROR_STATUS = {
  UNAUTHORIZED: 401,
  ACCOUNT_PENDING: 403,
  ACCOUNT_DISABLED: 403,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  VALIDATION_FAILED: 400,
  QUOTA_EXCEEDED: 403,
  HOST_CAPACITY_EXCEEDED: 409,
  INVALID_STATE: 409,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

export const notFound = (what = 'Resource'): AppError => new AppError('NOT_FOUND', `${what} not found`);
export const validationFailed = (field: string, message: string): AppError =>
  new AppError('VALIDATION_FAILED', message, { field });
export const invalidState = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError('INVALID_STATE', message, details);
export const conflict = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError('CONFLICT', message, details);
export const forbidden = (message = 'Forbidden'): AppError => new AppError('FORBIDDEN', message);
export const unauthorized = (message = 'Authentication required'): AppError => new AppError('UNAUTHORIZED', message);
export const unavailable = (message: string): AppError => new AppError('UNAVAILABLE', message);

export interface ErrorBody {
  code: number;
  message: string;
  error_code: string;
  request_id: string;
  details?: Record<string, unknown>;
}
