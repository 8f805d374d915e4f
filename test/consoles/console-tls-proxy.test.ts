// LIMEN behind a TLS-terminating nginx (Debian's) on loopback, configured with the very server
// block docs/operations.md shows: login over https gets Secure cookies (X-Forwarded-Proto from a
// trusted proxy), a console ticket is fetched and the console websocket opened through the proxy
// (wss, subprotocol binary, the public Origin), and a foreign Origin is refused at the upgrade.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { insertTestUser, newAdmin, parseSetCookies, TEST_PASSWORD, type TestUser } from '../helpers/factories.js';
import { startFakeVnc, type FakeVnc } from '../helpers/fake-vnc.js';
import type { ConsoleVmAccess } from '../../src/modules/consoles/index.js';
import { notFound } from '../../src/platform/http/app-error.js';

const REAL = process.env.LIMEN_TEST_REAL === '1';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NGINX_SH = join(ROOT, 'scripts/services/nginx.sh');
const DOCS = join(ROOT, 'docs/operations.md');

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = ['nginx', 'openssl'].filter((c) => !has(c));
// With the real components required (npm test), a missing nginx/openssl is a failure, not a skip.
const skip = missing.length > 0 && !REAL ? `needs ${missing.join(' and ')} (apt-get install nginx openssl)` : false;

/** A loopback port free right now (nginx needs a number in its config, it cannot report one). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** The nginx example of docs/operations.md, pointed at this test's port, certificate and app. */
function siteFromDocs(p: { port: number; cert: string; key: string; appPort: number }): string {
  const md = readFileSync(DOCS, 'utf8');
  const at = md.indexOf('## Running behind a TLS reverse proxy');
  assert.ok(at >= 0, 'docs/operations.md lost its TLS reverse proxy section');
  const block = /```nginx\n([\s\S]*?)```/.exec(md.slice(at))?.[1];
  assert.ok(block, 'no nginx example in the TLS reverse proxy section');
  const subst: [RegExp, string][] = [
    [/listen 443 ssl;/g, `listen 127.0.0.1:${p.port} ssl;`],
    [/ssl_certificate\s+\S+;/g, `ssl_certificate ${p.cert};`],
    [/ssl_certificate_key\s+\S+;/g, `ssl_certificate_key ${p.key};`],
    [/127\.0\.0\.1:18443/g, `127.0.0.1:${p.appPort}`],
  ];
  let site = block;
  for (const [re, to] of subst) {
    // A docs edit that breaks a substitution must fail here, not test some other config.
    assert.match(site, re, `the docs example no longer contains ${re.source}`);
    site = site.replace(re, to);
  }
  return site;
}

interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

describe('console behind a TLS-terminating nginx', { skip }, () => {
  let dir: string;
  let cert: Buffer;
  let port: number;
  let origin: string;
  let nginxPid: number | undefined;
  let nginxEnv: NodeJS.ProcessEnv;
  let t: TestApp | undefined;
  let vnc: FakeVnc | undefined;
  let alice: { id: string; username: string };
  let admin: TestUser;
  const vms = new Map<string, { owner: string; state: string }>();

  const access: ConsoleVmAccess = {
    async getVm(p, uuid) {
      const vm = vms.get(uuid);
      if (!vm || (vm.owner !== p.id && p.role !== 'admin')) throw notFound('VM');
      return { uuid, state: vm.state, host: 'default' };
    },
    vncEndpoint: async () => ({ host: '127.0.0.1', port: vnc!.port }),
    onVmState: () => () => undefined,
  };

  /** One request through nginx, verifying nginx's certificate against the test's own CA (itself). */
  function https(method: string, path: string, opts: { headers?: Record<string, string>; json?: unknown } = {}): Promise<HttpsResult> {
    const body = opts.json === undefined ? undefined : JSON.stringify(opts.json);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method,
          path,
          ca: cert,
          agent: false,
          headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...opts.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Opens wss through nginx; resolves with the first binary message or how it was refused. */
  function openWss(path: string, wsOrigin: string) {
    const ws = new WebSocket(`wss://127.0.0.1:${port}${path}`, ['binary'], {
      ca: cert,
      origin: wsOrigin,
      // A spoofing attempt: the docs config overwrites it with nginx's view of the peer.
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    const first = new Promise<{ data?: Buffer; code?: number; reason?: string }>((resolve) => {
      ws.once('message', (d: Buffer) => resolve({ data: d }));
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      ws.once('unexpected-response', (_req, res) => {
        resolve({ code: res.statusCode });
        res.resume();
      });
      ws.once('error', () => undefined);
    });
    return { ws, first };
  }

  const stopNginx = (): void => {
    if (nginxPid === undefined) return;
    spawnSync('bash', [NGINX_SH, 'stop'], { env: nginxEnv, stdio: 'ignore' });
    // Belt and braces: whatever the script did, the PID we started must be gone.
    try {
      process.kill(nginxPid, 'SIGKILL');
    } catch {
      /* already stopped */
    }
    nginxPid = undefined;
  };
  // A test process killed mid-run still takes its nginx down (after() would not run).
  process.once('exit', stopNginx);

  before(async () => {
    if (missing.length > 0) throw new Error(`LIMEN_TEST_REAL=1 needs ${missing.join(' and ')}: apt-get install nginx openssl`);
    dir = mkdtempSync(join(tmpdir(), 'limen-tls-'));
    // Our own state dir: concurrent runs in the same checkout must not replace each other's nginx.
    nginxEnv = { ...process.env, LIMEN_STATE: join(dir, 'state') };
    const certPath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
    cert = readFileSync(certPath);

    vnc = await startFakeVnc();
    // The proxy's port is part of LIMEN's public origin, so it is chosen before the app starts.
    port = await freePort();
    origin = `https://127.0.0.1:${port}`;
    t = await buildTestApp({
      env: { LIMEN_TRUSTED_PROXIES: '127.0.0.1', LIMEN_PUBLIC_ORIGIN: origin },
      consoleVmAccess: access,
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const appPort = (t.app.server.address() as { port: number }).port;
    const site = join(dir, 'limen-site.conf');
    writeFileSync(site, siteFromDocs({ port, cert: certPath, key: keyPath, appPort }));
    const r = spawnSync('bash', [NGINX_SH, 'start', site, String(port)], { env: nginxEnv, encoding: 'utf8' });
    assert.equal(r.status, 0, `nginx did not start: ${r.stderr}`);
    nginxPid = Number(r.stdout.trim());
    assert.ok(Number.isInteger(nginxPid) && nginxPid > 0);

    const u = await insertTestUser(t.app);
    alice = { id: u.id, username: u.username };
    admin = await newAdmin(t.app);
  });

  after(async () => {
    stopNginx();
    process.removeListener('exit', stopNginx);
    await t?.close();
    await vnc?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let token: string;

  test('login over https through nginx sets Secure cookies; the refresh cookie works through it', async () => {
    const r = await https('POST', '/api/auth/login', { json: { username: alice.username, password: TEST_PASSWORD }, headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(r.status, 200, r.body);
    const setCookie = [r.headers['set-cookie'] ?? []].flat();
    const refresh = setCookie.find((c) => c.startsWith('limen_refresh='));
    assert.ok(refresh, 'no refresh cookie');
    assert.match(refresh, /;\s*Secure/i, 'X-Forwarded-Proto https from a trusted proxy must make the cookie Secure');
    assert.match(refresh, /;\s*HttpOnly/i);
    const body = JSON.parse(r.body) as { access_token: string; csrf_token: string };
    token = body.access_token;

    // The same app reached directly over plain http: no Secure flag (it really is the proxy's header).
    const direct = await t!.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: alice.username, password: TEST_PASSWORD }, remoteAddress: '127.0.0.1' });
    assert.equal(direct.statusCode, 200);
    assert.doesNotMatch([direct.headers['set-cookie'] ?? []].flat().join('\n'), /;\s*Secure/i);

    const cookies = parseSetCookies(setCookie);
    const refreshed = await https('POST', '/api/auth/refresh', {
      headers: { cookie: `limen_refresh=${cookies.limen_refresh}`, 'x-csrf-token': body.csrf_token },
    });
    assert.equal(refreshed.status, 200, refreshed.body);
    token = (JSON.parse(refreshed.body) as { access_token: string }).access_token;
  });

  test('a console ticket and the console websocket work through the proxy (wss, binary, public Origin)', async () => {
    assert.ok(token, 'needs the login of the previous test');
    const uuid = randomUUID();
    vms.set(uuid, { owner: alice.id, state: 'running' });
    const r = await https('POST', `/api/vms/${uuid}/console`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200, r.body);
    const { ws_url } = JSON.parse(r.body) as { ws_url: string };

    const c = openWss(ws_url, origin);
    const first = await c.first;
    assert.equal(first.data?.toString(), 'RFB 003.008\n', `console refused: ${first.code} ${first.reason ?? ''}`);
    assert.equal(c.ws.protocol, 'binary');

    // Bytes go through both ways unchanged, also a message larger than nginx's proxy buffers.
    const payload = randomBytes(48 * 1024);
    const received: Buffer[] = [];
    let got = 0;
    const echoed = new Promise<void>((resolve) =>
      c.ws.on('message', (d: Buffer) => {
        received.push(d);
        got += d.length;
        if (got >= payload.length + 12) resolve();
      }),
    );
    c.ws.send(Buffer.from('RFB 003.008\n'));
    c.ws.send(payload);
    await echoed;
    assert.ok(Buffer.concat(received).equals(Buffer.concat([Buffer.from('RFB 003.008\n'), payload])));

    const closed = new Promise<void>((resolve) => c.ws.once('close', () => resolve()));
    c.ws.close();
    await closed;

    // The session records the client as nginx saw it, not the X-Forwarded-For the client sent.
    interface Row {
      vm_uuid: string;
      client_ip: string | null;
      ended_at: string | null;
    }
    let row: Row | undefined;
    for (let i = 0; i < 100 && !row?.ended_at; i++) {
      const list = await t!.app.inject({ method: 'GET', url: '/api/admin/console-sessions', headers: admin.auth });
      row = list.json<{ items: Row[] }>().items.find((s) => s.vm_uuid === uuid);
      if (!row?.ended_at) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(row, 'session not recorded');
    assert.equal(row.client_ip, '127.0.0.1');
  });

  test('a websocket from a foreign Origin is refused through the proxy', async () => {
    assert.ok(token, 'needs the login of the first test');
    const uuid = randomUUID();
    vms.set(uuid, { owner: alice.id, state: 'running' });
    const r = await https('POST', `/api/vms/${uuid}/console`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200, r.body);
    const before0 = vnc!.connections;
    const { ws_url } = JSON.parse(r.body) as { ws_url: string };
    for (const foreign of ['https://evil.example', `http://127.0.0.1:${port}`]) {
      assert.equal((await openWss(ws_url, foreign).first).code, 403, foreign);
    }
    assert.equal(vnc!.connections, before0, 'a refused origin must never reach the VNC server');
  });
});
