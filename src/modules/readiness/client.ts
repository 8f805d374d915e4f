// HTTP and metrics helpers for readiness items: plain fetch against the instance under test.
export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

export async function api(base: string, method: string, path: string, opts: { token?: string; body?: unknown; timeoutMs?: number } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: res.status, body: { raw: text.slice(0, 300) } };
  }
}

/** A 404 from the router (the feature does not exist in this build), not "no such resource". */
export const routeMissing = (a: Answer): boolean => a.status === 404 && typeof a.body.message === 'string' && a.body.message.startsWith('Route ');

export type Samples = Map<string, number>;

/** Prometheus text → "name{labels}" → value (labels as exposed, in order). */
export async function scrape(base: string): Promise<{ samples: Samples; names: Set<string>; text: string }> {
  const res = await fetch(`${base}/api/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/api/metrics answered ${res.status}`);
  const samples: Samples = new Map();
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) /.exec(line);
    if (t) names.add(t[1]!);
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return { samples, names, text };
}

/** Sum of every sample of a metric whose labels contain `match` (e.g. 'reason="invalid_credentials"'). */
export function total(s: Samples, name: string, match = ''): number {
  let sum = 0;
  for (const [k, v] of s) if ((k === name || k.startsWith(`${name}{`)) && k.includes(match)) sum += v;
  return sum;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
}
