// /api/metrics (CONTRACT.md §6), parsed by a Prometheus text parser.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createHostProbe } from '../../src/platform/host-metrics.js';

export const CONTRACT_METRICS = [
  'http_requests_total', 'http_request_duration_seconds', 'auth_failure_total', 'vm_quota_denied_total',
  'console_active_sessions', 'host_cpu_usage_percent', 'host_memory_usage_percent', 'host_disk_usage_percent',
  'vm_total', 'vm_action_total', 'vm_action_duration_seconds', 'libvirt_connection_status', 'database_up', 'limen_build_info',
];

interface Family { name: string; type: string; metrics: { labels?: Record<string, string>; value?: string; buckets?: unknown }[] }

async function scrape(t: TestApp): Promise<Map<string, Family>> {
  const res = await t.app.inject({ method: 'GET', url: '/api/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /text\/plain/);
  const families = parsePrometheusTextFormat(res.body) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

const value = (f: Family | undefined, labels: Record<string, string> = {}): number => {
  const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  assert.ok(m, `series ${f?.name}${JSON.stringify(labels)} missing`);
  return Number(m.value);
};

describe('metrics endpoint', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({
      beforeReady: (app) => {
        app.get('/api/__test/items/:id', { config: { auth: 'public' } }, async () => ({ ok: true }));
      },
    });
  });
  after(() => t.close());

  test('every contract metric is present on the first scrape', async () => {
    const fams = await scrape(t);
    for (const name of CONTRACT_METRICS) {
      // Histograms appear once observed; the families are registered from the start.
      if (name.endsWith('_seconds')) continue;
      assert.ok(fams.has(name), `${name} missing from first scrape`);
    }
    const text = (await t.app.inject({ method: 'GET', url: '/api/metrics' })).body;
    for (const name of CONTRACT_METRICS) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} has no TYPE line`);
  });

  test('labelled counters are pre-initialised for every contract label value', async () => {
    const fams = await scrape(t);
    for (const reason of ['invalid_credentials', 'account_pending', 'rate_limited', 'invalid_token', 'expired_token']) {
      assert.equal(value(fams.get('auth_failure_total'), { reason }), 0);
    }
    for (const resource of ['vms', 'vcpus', 'memory', 'disk', 'snapshots', 'running_vms', 'running_vcpus', 'running_memory']) {
      assert.equal(value(fams.get('vm_quota_denied_total'), { resource }), 0);
    }
    for (const state of ['creating', 'stopped', 'starting', 'running', 'paused', 'stopping', 'deleting', 'error', 'missing']) {
      assert.equal(value(fams.get('vm_total'), { state }), 0);
    }
    assert.equal(value(fams.get('console_active_sessions')), 0);
    assert.equal(value(fams.get('limen_build_info'), { version: '0.0.0-test', commit: 'test' }), 1);
  });

  test('database_up and libvirt_connection_status track reality', async () => {
    await t.app.inject({ method: 'GET', url: '/api/health' });
    let fams = await scrape(t);
    assert.equal(value(fams.get('database_up')), 1);
    assert.equal(value(fams.get('libvirt_connection_status'), { host: 'default' }), 1);
    t.hypervisor.up = false;
    await t.app.inject({ method: 'GET', url: '/api/health' });
    fams = await scrape(t);
    assert.equal(value(fams.get('libvirt_connection_status'), { host: 'default' }), 0);
    t.hypervisor.up = true;
  });

  test('route labels are patterns, never raw paths, and 404s are counted', async () => {
    await t.app.inject({ method: 'GET', url: '/api/__test/items/abc123' });
    await t.app.inject({ method: 'GET', url: '/api/__test/items/def456' });
    await t.app.inject({ method: 'GET', url: '/api/no/such/route/xyz' });
    const fams = await scrape(t);
    const http = fams.get('http_requests_total')!;
    const routes = new Set(http.metrics.map((m) => m.labels!.route));
    assert.ok(routes.has('/api/__test/items/:id'));
    assert.equal(value(http, { route: '/api/__test/items/:id', status: '200' }), 2);
    assert.ok(routes.has('unmatched'));
    for (const r of routes) assert.doesNotMatch(r ?? "", /abc123|def456|xyz/);
    assert.equal(value(http, { route: 'unmatched', status: '404' }), 1);
  });

  test('host gauges are real percentages that move', async () => {
    const t2 = await buildTestApp({ hostProbe: createHostProbe(process.cwd()), hostSampleMs: 300 });
    try {
      // a saturated CI machine can read 100 % CPU sample after sample: "moves" is any gauge of the
      // three changing between samples (memory moves with every allocation), never a frozen set
      const seen = new Set<string>();
      const deadline = Date.now() + 20_000;
      let spin = false;
      while (Date.now() < deadline && seen.size < 2) {
        // Alternate busy and idle stretches so CPU usage changes between samples.
        const until = Date.now() + 350;
        if ((spin = !spin)) while (Date.now() < until) Math.sqrt(Math.random());
        else await new Promise((r) => setTimeout(r, 350));
        const fams = await scrape(t2);
        // The first sample measures CPU over 0.5 s before it lands.
        if (value(fams.get('host_memory_usage_percent')) === 0) continue;
        for (const n of ['host_cpu_usage_percent', 'host_memory_usage_percent', 'host_disk_usage_percent']) {
          const v = value(fams.get(n));
          assert.ok(v >= 0 && v <= 100, `${n}=${v} is not a percentage`);
        }
        assert.ok(value(fams.get('host_memory_usage_percent')) > 0);
        assert.ok(value(fams.get('host_disk_usage_percent')) > 0);
        seen.add(['host_cpu_usage_percent', 'host_memory_usage_percent', 'host_disk_usage_percent'].map((n) => value(fams.get(n))).join(' '));
      }
      assert.ok(seen.size >= 2, `the host gauges never changed: ${[...seen].join(' | ')}`);
    } finally {
      await t2.close();
    }
  });

  test('a metrics token, when configured, is required', async () => {
    const t3 = await buildTestApp({ env: { LIMEN_METRICS_TOKEN: 'scrape-token-0123456789' } });
    try {
      const no = await t3.app.inject({ method: 'GET', url: '/api/metrics' });
      assert.equal(no.statusCode, 401);
      const yes = await t3.app.inject({ method: 'GET', url: '/api/metrics', headers: { authorization: 'Bearer scrape-token-0123456789' } });
      assert.equal(yes.statusCode, 200);
    } finally {
      await t3.close();
    }
  });
});
