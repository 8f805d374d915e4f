// The HTTP platform's contract (CONTRACT.md §3–4): every error in the one shape, on both engines.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from 'typebox';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';

for (const engine of DB_ENGINES) {
  describe(`HTTP contract (${engine})`, () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({
        engine,
        beforeReady: (app) => {
          app.post(
            '/api/__test/echo',
            { config: { auth: 'public' }, schema: { body: Type.Object({ name: Type.String({ minLength: 1 }), size: Type.Integer({ minimum: 1 }) }) } },
            async (req) => req.body,
          );
          app.get('/api/__test/boom', { config: { auth: 'public' } }, async () => {
            throw new Error('connection to 10.1.2.3 failed: password=hunter2');
          });
        },
      });
    });
    after(() => t.close());

    test('health is 200 ok with db connected and libvirt simulated', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/health' });
      assert.equal(res.statusCode, 200);
      const b = res.json();
      assert.deepEqual(Object.keys(b).sort(), ['db', 'hosts', 'libvirt', 'status', 'time', 'version']);
      assert.deepEqual(b.hosts, [{ name: 'default', state: 'active', status: 'simulated' }]);
      assert.equal(b.status, 'ok');
      assert.equal(b.db, 'connected');
      assert.equal(b.libvirt, 'simulated');
      assert.ok(Math.abs(Date.parse(b.time) - Date.now()) < 5000);
      assert.equal(b.version, '0.0.0-test');
    });

    test('health is 503 degraded when libvirt is down, and recovers', async () => {
      t.hypervisor.up = false;
      const down = await t.app.inject({ method: 'GET', url: '/api/health' });
      assert.equal(down.statusCode, 503);
      assert.equal(down.json().status, 'degraded');
      assert.equal(down.json().libvirt, 'disconnected');
      assert.equal(down.json().db, 'connected');
      t.hypervisor.up = true;
      const up = await t.app.inject({ method: 'GET', url: '/api/health' });
      assert.equal(up.statusCode, 200);
    });

    test('unknown route is a 404 in the error shape', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/does-not-exist' });
      assertErrorBody(res, 404, 'NOT_FOUND');
    });

    test('validation error names the offending field', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/__test/echo', payload: { name: 'x', size: 0 } });
      const b = assertErrorBody(res, 400, 'VALIDATION_FAILED');
      assert.equal((b.details as { field: string }).field, 'size');
      const missing = await t.app.inject({ method: 'POST', url: '/api/__test/echo', payload: { size: 2 } });
      assert.equal((assertErrorBody(missing, 400, 'VALIDATION_FAILED').details as { field: string }).field, 'name');
    });

    test('malformed JSON is a validation error', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/__test/echo', headers: { 'content-type': 'application/json' }, payload: '{"name":' });
      assertErrorBody(res, 400, 'VALIDATION_FAILED');
    });

    test('oversized body is 413 PAYLOAD_TOO_LARGE', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/__test/echo', payload: { name: 'x'.repeat(2 * 1024 * 1024), size: 1 } });
      assertErrorBody(res, 413, 'PAYLOAD_TOO_LARGE');
    });

    test('wrong content type is 415', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/__test/echo', headers: { 'content-type': 'text/xml' }, payload: '<a/>' });
      assertErrorBody(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    test('a 500 hides internals but logs them with the request id', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/__test/boom' });
      const b = assertErrorBody(res, 500, 'INTERNAL');
      assert.equal(b.message, 'Internal server error');
      assert.doesNotMatch(res.body, /10\.1\.2\.3|hunter2|stack|Error:/);
      assert.ok(t.logs.lines.some((l) => l.includes(String(b.request_id)) && l.includes('10.1.2.3')));
    });

    test('responses carry request id and security headers', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/health' });
      assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
    });

    test('a client-sent request id is not trusted', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/nope', headers: { 'request-id': 'evil' } });
      assert.notEqual(res.json().request_id, 'evil');
    });

    test('OpenAPI document and docs UI are served', async () => {
      const doc = await t.app.inject({ method: 'GET', url: '/api/openapi.json' });
      assert.equal(doc.statusCode, 200);
      const spec = doc.json();
      assert.match(spec.openapi, /^3\./);
      assert.ok(spec.paths['/api/health']);
      const ui = await t.app.inject({ method: 'GET', url: '/api/docs/' });
      assert.equal(ui.statusCode, 200);
      assert.match(ui.body, /swagger/i);
    });
  });
}
