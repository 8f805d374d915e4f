// "Under load" for the outage tests: a handful of concurrent API clients over real HTTP, each
// request bounded by a timeout, every answer recorded with the phase of the fault it fell in.
import assert from 'node:assert/strict';

export interface Answer {
  /** The fault's phase the request was sent and answered in; `sent→answered` when it changed meanwhile. */
  phase: string;
  what: string;
  status: number; // 0 = no answer within the timeout (or the connection failed)
  errorCode?: string;
  body?: Record<string, unknown>;
  ms: number;
}

export interface Request {
  what: string;
  method: string;
  path: string;
  body?: unknown;
}

export interface Load {
  phase: string;
  answers: Answer[];
  /** Stops the clients and waits for their last requests. */
  stop(): Promise<void>;
}

/**
 * The mix the outage tests send, rotating per client: list VMs, read quota, create a VM (name
 * `<prefix>-<client>-<n>`), a power action on `vm` alternating between `actions`, health.
 */
export function mixedRequests(prefix: string, vm: string, actions: [string, string]): (client: number, n: number) => Request {
  return (client, n) => {
    switch ((client + n) % 5) {
      case 0: return { what: 'list', method: 'GET', path: '/api/vms' };
      case 1: return { what: 'quota', method: 'GET', path: '/api/quota' };
      case 2: return { what: 'create', method: 'POST', path: '/api/vms', body: { name: `${prefix}-${client}-${n}`, vcpus: 1, memory_mb: 64, disk_gb: 1 } };
      case 3: return { what: 'action', method: 'POST', path: `/api/vms/${vm}/action`, body: { action: actions[n % 2] } };
      default: return { what: 'health', method: 'GET', path: '/api/health' };
    }
  };
}

/** `clients` loops, each sending next(i, n) until stopped; `phase` can be changed while they run. */
export function startLoad(o: { url: string; token: string; clients: number; timeoutMs: number; next: (client: number, n: number) => Request }): Load {
  let running = true;
  const load: Load = { phase: 'before', answers: [], stop: async () => undefined };
  // A request sent just before the fault ended may be answered after it (a slow machine): it
  // belongs to neither phase alone, so the per-phase expectations never misjudge it.
  const span = (sent: string): string => (load.phase === sent ? sent : `${sent}→${load.phase}`);
  const loop = async (client: number) => {
    for (let n = 0; running; n++) {
      const req = o.next(client, n);
      const phase = load.phase;
      const t0 = performance.now();
      try {
        const r = await fetch(`${o.url}${req.path}`, {
          method: req.method,
          headers: { authorization: `Bearer ${o.token}`, ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: req.body !== undefined ? JSON.stringify(req.body) : undefined,
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        const body = (await r.json().catch(() => undefined)) as Record<string, unknown> | undefined;
        load.answers.push({ phase: span(phase), what: req.what, status: r.status, errorCode: body?.error_code as string | undefined, body, ms: performance.now() - t0 });
      } catch {
        load.answers.push({ phase: span(phase), what: req.what, status: 0, ms: performance.now() - t0 });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const all = Promise.all(Array.from({ length: o.clients }, (_, i) => loop(i)));
  load.stop = async () => {
    running = false;
    await all;
  };
  return load;
}

/** Every answer of the phase is a 503 UNAVAILABLE in the contract's shape (health: degraded), none hung or 500. */
export function assertUnavailableDuring(load: Load, phase: string, timeoutMs: number): Answer[] {
  const got = load.answers.filter((a) => a.phase === phase);
  assert.ok(got.length > 0, `requests were made during ${phase}`);
  for (const a of got) {
    assert.notEqual(a.status, 0, `${a.what} got no answer within ${timeoutMs} ms during ${phase}`);
    assert.equal(a.status, 503, `${a.what} during ${phase}: ${a.status} ${JSON.stringify(a.body)}`);
    if (a.what === 'health') assert.equal(a.body?.status, 'degraded');
    else {
      assert.equal(a.errorCode, 'UNAVAILABLE', `${a.what}: ${JSON.stringify(a.body)}`);
      assert.equal(a.body?.code, 503);
      assert.equal(typeof a.body?.message, 'string');
      assert.equal(typeof a.body?.request_id, 'string');
    }
  }
  return got;
}

export function summarize(load: Load): string {
  const by = new Map<string, number>();
  for (const a of load.answers) by.set(`${a.phase} ${a.what} ${a.status}`, (by.get(`${a.phase} ${a.what} ${a.status}`) ?? 0) + 1);
  return [...by].map(([k, n]) => `${k} x${n}`).join(', ');
}
