// Assertions for the contract's error body (CONTRACT.md §3).
import assert from 'node:assert/strict';

export function assertErrorBody(res: { statusCode: number; json(): unknown; headers: Record<string, unknown> }, status: number, errorCode: string): Record<string, unknown> {
  assert.equal(res.statusCode, status, `expected ${status}, got ${res.statusCode}: ${JSON.stringify(res.json())}`);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const body = res.json() as Record<string, unknown>;
  assert.equal(body.code, status);
  assert.equal(body.error_code, errorCode);
  assert.equal(typeof body.message, 'string');
  assert.ok((body.message as string).length > 0);
  assert.match(String(body.request_id), /^[0-9a-f-]{36}$/);
  const allowed = new Set(['code', 'message', 'error_code', 'request_id', 'details']);
  for (const k of Object.keys(body)) assert.ok(allowed.has(k), `unexpected key ${k} in error body`);
  return body;
}
