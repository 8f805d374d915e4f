import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDatabaseUnavailable } from '../../src/platform/http/error-handler.js';

test('database outages are recognised (→ 503), ordinary errors are not', () => {
  for (const err of [
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    new Error('timeout exceeded when trying to connect'),
    Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    Object.assign(new Error('connection failure'), { code: '08006' }),
    new Error('Failed query', { cause: new Error('Connection terminated unexpectedly') }),
  ]) {
    assert.equal(isDatabaseUnavailable(err), true, err.message);
  }
  for (const err of [new Error('boom'), Object.assign(new Error('duplicate key'), { code: '23505' }), undefined, 'text']) {
    assert.equal(isDatabaseUnavailable(err), false);
  }
});
