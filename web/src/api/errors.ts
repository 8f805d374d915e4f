// The error shape of CONTRACT.md §3, as a throwable the pages can show inline.
import type { QuotaKey } from '../lib/quota';

export interface ApiErrorBody {
  code: number;
  message: string;
  error_code: string;
  request_id?: string;
  details?: Record<string, unknown>;
}

export class ApiError extends Error {
  readonly status: number;
  readonly errorCode: string;
  readonly requestId: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(status: number, body: Partial<ApiErrorBody>) {
    super(body.message ?? `Request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.errorCode = body.error_code ?? (status === 0 ? 'NETWORK' : 'UNKNOWN');
    this.requestId = body.request_id;
    this.details = body.details;
  }

  /** The offending field of a VALIDATION_FAILED error, so a form can point at it. */
  get field(): string | undefined {
    const f = this.details?.['field'];
    return typeof f === 'string' ? f : undefined;
  }

  /** QUOTA_EXCEEDED details {resource, limit, used, requested}. */
  get quota(): { resource: QuotaKey | string; limit: number | null; used: number; requested: number } | undefined {
    if (this.errorCode !== 'QUOTA_EXCEEDED' || !this.details) return undefined;
    const d = this.details;
    return {
      resource: String(d['resource'] ?? ''),
      limit: typeof d['limit'] === 'number' ? d['limit'] : null,
      used: Number(d['used'] ?? 0),
      requested: Number(d['requested'] ?? 0),
    };
  }
}

/** One human sentence for any thrown value; quota errors spell out the numbers. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) {
    const q = e.quota;
    if (q) return `${e.message} (${q.resource}: ${q.used} used of ${q.limit ?? 'unlimited'}, ${q.requested} requested)`;
    if (e.errorCode === 'RATE_LIMITED') return `${e.message} Try again in a moment.`;
    return e.message;
  }
  if (e instanceof Error) return e.message;
  return 'Something went wrong';
}

export async function errorFromResponse(res: Response): Promise<ApiError> {
  let body: Partial<ApiErrorBody> = {};
  try {
    const parsed: unknown = await res.json();
    if (parsed && typeof parsed === 'object') body = parsed as Partial<ApiErrorBody>;
  } catch {
    // Not JSON (a proxy error page, say): fall back to the status line.
  }
  if (!body.message) body.message = res.status === 404 ? 'Not found' : `Request failed: ${res.status} ${res.statusText}`;
  return new ApiError(res.status, body);
}
