import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTRACT_DEFAULTS, QUOTA_KEYS, effectiveLimits, findDenial, overLimit, zeroUsage, type QuotaLimits } from '../../src/modules/quotas/quota-rules.js';

describe('quota rules', () => {
  test('a request within every limit passes; exactly reaching a limit passes', () => {
    const usage = { ...zeroUsage(), vms: 4, vcpus: 6 };
    assert.equal(findDenial(CONTRACT_DEFAULTS, usage, { vms: 1, vcpus: 2, memory_mb: 16384, disk_gb: 200 }), undefined);
  });

  for (const key of QUOTA_KEYS) {
    test(`${key}: one over the limit is denied with limit, used and requested`, () => {
      const limits: QuotaLimits = { ...CONTRACT_DEFAULTS, [key]: 10 };
      const usage = { ...zeroUsage(), [key]: 7 };
      assert.deepEqual(findDenial(limits, usage, { [key]: 4 }), { resource: key, limit: 10, used: 7, requested: 4 });
      assert.equal(findDenial(limits, usage, { [key]: 3 }), undefined);
    });
  }

  test('null means unlimited', () => {
    const limits: QuotaLimits = { ...CONTRACT_DEFAULTS, vcpus: null };
    assert.equal(findDenial(limits, { ...zeroUsage(), vcpus: 10_000 }, { vcpus: 10_000 }), undefined);
  });

  test('after a limit is lowered below usage, growth is denied but shrinking and unrelated requests are not', () => {
    const limits: QuotaLimits = { ...CONTRACT_DEFAULTS, memory_mb: 1024 };
    const usage = { ...zeroUsage(), vms: 1, memory_mb: 4096 };
    assert.deepEqual(overLimit(limits, usage), ['memory_mb']);
    assert.equal(findDenial(limits, usage, { memory_mb: 1 })?.resource, 'memory_mb');
    assert.equal(findDenial(limits, usage, { memory_mb: -2048 }), undefined);
    assert.equal(findDenial(limits, usage, { snapshots: 1 }), undefined);
  });

  test('a zero limit denies any allocation of that resource', () => {
    assert.equal(findDenial({ ...CONTRACT_DEFAULTS, vms: 0 }, zeroUsage(), { vms: 1 })?.limit, 0);
  });

  test('the first failing resource in contract order is reported', () => {
    const limits: QuotaLimits = { ...CONTRACT_DEFAULTS, vms: 1, vcpus: 1 };
    assert.equal(findDenial(limits, { ...zeroUsage(), vms: 1, vcpus: 1 }, { vms: 1, vcpus: 1 })?.resource, 'vms');
  });

  test('overrides replace defaults key by key; an explicit null is unlimited', () => {
    const eff = effectiveLimits(CONTRACT_DEFAULTS, { vms: 2, disk_gb: null });
    assert.equal(eff.vms, 2);
    assert.equal(eff.disk_gb, null);
    assert.equal(eff.vcpus, CONTRACT_DEFAULTS.vcpus);
  });
});
