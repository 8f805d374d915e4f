// `limen readiness` for real: a private instance, Prometheus, Alertmanager, the drill. Every §8
// item is in the report; on the CI machine (LIMEN_TEST_REAL=1, real libvirt) every one is PASS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { ITEMS, runReadiness, writeReadiness } from '../../src/modules/readiness/index.js';
import { REAL } from '../helpers/db.js';

test('limen readiness writes readiness.json + readiness.md with every §8 item, honestly', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-readiness-test-'));
  try {
    const libvirt = process.env.LIMEN_TEST_LIBVIRT_URI ?? 'test:///default';
    const config = loadConfig({ env: { LIMEN_DATA_DIR: join(dir, 'live'), LIBVIRT_URI: libvirt, LIMEN_VM_ACCEL: 'tcg' }, version: '0.0.0-test', commit: 'test' });
    const report = await runReadiness({ config });
    const files = await writeReadiness(report, join(dir, 'out'));
    const json = JSON.parse(readFileSync(files.json, 'utf8'));
    assert.deepEqual(json.items.map((i: { id: string }) => i.id), ITEMS.map(([id]) => id));
    for (const i of json.items) {
      assert.ok(i.status === 'PASS' || i.status === 'FAIL');
      assert.equal(typeof i.duration_ms, 'number');
      assert.ok(i.evidence && Object.keys(i.evidence).length > 0, `${i.id} has evidence`);
    }
    const md = readFileSync(files.md, 'utf8');
    for (const [, title] of ITEMS) assert.ok(md.includes(title), title);
    if (libvirt.startsWith('test:')) {
      // A simulated host is not "libvirt connected": the health item must say so, not pass.
      assert.equal(json.items[0].status, 'FAIL');
    }
    if (REAL && !libvirt.startsWith('test:')) {
      const failed = json.items.filter((i: { status: string }) => i.status !== 'PASS');
      assert.deepEqual(failed, [], 'every readiness item passes on the CI machine');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
