// `limen alerts config`: the printed Alertmanager configuration passes `amtool check-config`, points
// at this instance's receiver with its token, and the Prometheus side passes `promtool check config`.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { renderAlertmanagerConfig, renderPrometheusScrape } from '../../src/modules/alerts/index.js';
import { REPO_ROOT, SHIPPED_ALERTMANAGER_CONFIG } from '../deploy/alert-delivery-harness.js';

const REAL = process.env.LIMEN_TEST_REAL === '1';
const onPath = (bin: string): boolean => (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, bin)));
const toolsInstalled = onPath('amtool') && onPath('promtool');
const skipTools = !toolsInstalled && !REAL ? 'amtool/promtool not installed (set LIMEN_TEST_REAL=1 to fail instead)' : false;

const TOKEN = 'cli-config-token-0123456789abcdef';

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, cwd: REPO_ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('limen alerts config', () => {
  let dir: string;
  const limen = (args: string[], env: Record<string, string> = {}) => {
    const base: NodeJS.ProcessEnv = { ...process.env, LIMEN_DATA_DIR: join(dir, 'data'), LIBVIRT_URI: 'test:///default', ...env };
    delete base.LIMEN_URL;
    if (env.LIMEN_URL) base.LIMEN_URL = env.LIMEN_URL;
    return run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'alerts', 'config', ...args], base);
  };
  const save = (name: string, text: string): string => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'limen-alerts-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('renders the shipped config for one instance: URL and token replaced, routing kept', () => {
    const shipped = readFileSync(SHIPPED_ALERTMANAGER_CONFIG, 'utf8');
    const out = renderAlertmanagerConfig(shipped, { baseUrl: 'http://10.0.0.5:8080/', token: 'to"ken' });
    assert.equal(out.match(/url: "http:\/\/10\.0\.0\.5:8080\/api\/alerts\/webhook"/g)?.length, 2);
    assert.equal(out.match(/credentials: "to\\"ken"/g)?.length, 2, 'the token is quoted');
    assert.doesNotMatch(out, /credentials_file|18443/);
    for (const kept of ['send_resolved: true', 'inhibit_rules:', 'severity="critical"', 'group_by: [alertname, instance]']) assert.ok(out.includes(kept), kept);
    const byFile = renderAlertmanagerConfig(shipped, { baseUrl: 'http://h:1', tokenFile: '/etc/limen/t' });
    assert.equal(byFile.match(/credentials_file: "\/etc\/limen\/t"/g)?.length, 2);
    assert.throws(() => renderAlertmanagerConfig(shipped, { baseUrl: 'http://h:1' }), /exactly one/);
    assert.throws(() => renderAlertmanagerConfig('route: {}\n', { baseUrl: 'http://h:1', token: 'x' }), /no "url:" line/);

    const prom = renderPrometheusScrape({ baseUrl: 'https://limen.example.org/prefix', rulesFile: '/r.yml', alertmanager: 'am:9093', metricsToken: 'm' });
    assert.match(prom, /job_name: limen/);
    assert.match(prom, /scheme: https/);
    assert.match(prom, /metrics_path: "\/prefix\/api\/metrics"/);
    assert.match(prom, /targets: \["limen\.example\.org"\]/);
    assert.match(prom, /credentials: "m"/);
  });

  test('the printed config passes amtool check-config (token inline and by file)', { skip: skipTools, timeout: 60_000 }, async () => {
    assert.ok(toolsInstalled, 'LIMEN_TEST_REAL=1 but amtool/promtool is not installed');
    const inline = await limen([], { LIMEN_ALERT_WEBHOOK_TOKEN: TOKEN, PORT: '18555' });
    assert.equal(inline.code, 0, inline.stderr);
    assert.match(inline.stdout, /url: "http:\/\/127\.0\.0\.1:18555\/api\/alerts\/webhook"/);
    assert.equal(inline.stdout.split(`credentials: "${TOKEN}"`).length - 1, 2);
    const check = await run('amtool', ['check-config', save('inline.yml', inline.stdout)]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /SUCCESS/);

    const byFile = await limen(['--token-file', '/etc/limen/alert-webhook-token'], { LIMEN_URL: 'https://limen.example.org' });
    assert.equal(byFile.code, 0, byFile.stderr);
    assert.match(byFile.stdout, /url: "https:\/\/limen\.example\.org\/api\/alerts\/webhook"/);
    assert.doesNotMatch(byFile.stdout, /credentials: /, 'no inline token');
    const check2 = await run('amtool', ['check-config', save('by-file.yml', byFile.stdout)]);
    assert.equal(check2.code, 0, check2.stdout + check2.stderr);

    const prom = await limen(['--prometheus', '--alertmanager', '127.0.0.1:19093']);
    assert.equal(prom.code, 0, prom.stderr);
    const check3 = await run('promtool', ['check', 'config', save('prometheus.yml', prom.stdout)]);
    assert.equal(check3.code, 0, check3.stdout + check3.stderr);
  });

  test('without a token in the environment, the generated persisted token is the one printed; a running instance\'s URL wins', { timeout: 30_000 }, async () => {
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'limen.pid'), JSON.stringify({ pid: 1, url: 'http://127.0.0.1:40123' }) + '\n');
    const out = await limen([]);
    assert.equal(out.code, 0, out.stderr);
    const persisted = readFileSync(join(dataDir, 'secrets', 'alert-webhook-token'), 'utf8').trim();
    assert.ok(persisted.length >= 16);
    assert.ok(out.stdout.includes(`credentials: "${persisted}"`));
    assert.match(out.stdout, /url: "http:\/\/127\.0\.0\.1:40123\/api\/alerts\/webhook"/);
    const bad = await limen([], { LIMEN_URL: 'ftp://nope' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /LIMEN_URL must be an http\(s\) URL/);
  });
});
