// Templates on real QEMU (qemu:///system under scripts/test.sh, TCG): a template made from a real
// VM, then 10 linked clones created through the API in ONE batch request, all started. Each clone
// boots (its VNC server greets with RFB) and each disk is a qcow2 overlay whose backing file is the
// template's base. The total time is printed in the test output (never asserted: the machine is
// shared; speed is measured in bench/class).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PG_URL } from '../helpers/db.js';
import { realLibvirtUri, startRealVmStack, type RealVmStack } from '../helpers/real-vms.js';
import { readRfbGreeting, waitGone, waitState, type VmJson } from '../vms/vm-helpers.js';
import { qemuImgInfo, waitTemplateReady, type TemplateJson } from './template-fixtures.js';

const URI = realLibvirtUri();
const CLONES = 10;

describe('templates on real QEMU: 10 linked clones in one batch', { skip: !URI && 'no real libvirt (LIMEN_TEST_LIBVIRT_URI unset)', timeout: 600_000 }, () => {
  let stack: RealVmStack;

  before(async () => {
    // 11 one-vCPU guests on a small CI machine: lift the host overcommit guard for this test
    // PostgreSQL when available: 11 TCG guests starve the event loop, PGlite would run on it too;
    // a generous body timeout for the same reason (requests are in-process, never slow clients)
    // and libvirt calls get a minute: with 11 guests booting under TCG at load 30-46 libvirtd took
    // over 15 s (the default) to answer a define check; the timeout dropped the connection and the
    // clone being created was rolled back (404), which the test took for a clone that never ran
    stack = await startRealVmStack(URI!, {
      pollIntervalMs: 1000,
      callTimeoutMs: 60_000,
      app: {
        engine: PG_URL ? 'postgres' : 'pglite',
        env: { LIMEN_CPU_OVERCOMMIT: '64' },
        vmOptions: { shutdownTimeoutMs: 3_000, reconcileEveryMs: 5_000 },
        slowRequestLimits: { bodyTimeoutMs: 600_000 },
      },
    });
  });

  after(async () => {
    await stack?.close();
  });

  test('template from a real VM → 10 linked clones in one batch: each boots (RFB greeting), each disk backs onto the base', async () => {
    const { t, driver, user, isoId, made } = stack;
    const api = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: Record<string, unknown>) => t.app.inject({ method, url, headers: user.auth, ...(payload ? { payload } : {}) });
    // the source VM really ran before it became a template
    const src = (await api('POST', '/api/vms', { name: 'golden', vcpus: 1, memory_mb: 64, disk_gb: 1, iso: isoId, start: true })).json<VmJson>();
    made.push(src.uuid);
    await waitState(t.app, user, src.uuid, 'running', 120_000);
    assert.equal((await api('POST', `/api/vms/${src.uuid}/action`, { action: 'stop' })).statusCode, 202);
    await waitState(t.app, user, src.uuid, 'stopped', 60_000);
    const created = await api('POST', '/api/templates', { vm: src.uuid, name: 'golden' });
    assert.equal(created.statusCode, 202, created.body);
    const tpl: TemplateJson = await waitTemplateReady(t.app, user, created.json<TemplateJson>().id, 120_000);
    const base = join(t.dataDir, 'templates', `${tpl.id}.qcow2`);
    assert.equal(statSync(base).mode & 0o777, 0o444);

    const t0 = performance.now();
    const batch = await api('POST', '/api/vms/batch', { template: tpl.id, name_prefix: 'clone', count: CLONES, iso: isoId, start: true });
    const accepted = performance.now() - t0;
    assert.equal(batch.statusCode, 202, batch.body);
    const clones = batch.json<{ items: VmJson[] }>().items;
    made.push(...clones.map((c) => c.uuid));
    assert.equal(clones.length, CLONES);
    for (const c of clones) {
      await waitState(t.app, user, c.uuid, 'running', 300_000).catch(async (e: unknown) => {
        const now = await t.app.inject({ method: 'GET', url: `/api/vms/${c.uuid}`, headers: user.auth });
        const why = t.logs.lines.filter((l) => l.includes(c.uuid) && /fail|error/i.test(l)).slice(-3).join('\n');
        throw new Error(`${c.name} never ran: ${now.statusCode} ${now.body}\n${why}`, { cause: e });
      });
    }
    const allRunning = performance.now() - t0;
    for (const c of clones) {
      const vnc = await driver.getVncEndpoint(c.uuid);
      assert.ok(vnc, `VNC endpoint of ${c.name}`);
      assert.match(await readRfbGreeting(vnc.host, vnc.port, 60_000), /^RFB 003\.008/, `${c.name} greets`);
      const info = qemuImgInfo(join(t.dataDir, 'disks', `${c.uuid}.qcow2`));
      assert.equal(info['full-backing-filename'] ?? info['backing-filename'], base, `${c.name} is an overlay on the base`);
      assert.equal(info['backing-filename-format'], 'qcow2');
    }
    const greeted = performance.now() - t0;
    const overlayBytes = clones.reduce((n, c) => n + qemuImgInfo(join(t.dataDir, 'disks', `${c.uuid}.qcow2`))['actual-size'], 0);
    console.log(
      `${CLONES} linked clones: batch accepted in ${accepted.toFixed(0)} ms, all running after ${(allRunning / 1000).toFixed(1)} s, ` +
        `all greeted after ${(greeted / 1000).toFixed(1)} s; overlays use ${(overlayBytes / CLONES / 1024).toFixed(0)} KiB each on average`,
    );

    // a template with running clones cannot be deleted; delete them all, then it can
    assert.equal((await api('DELETE', `/api/templates/${tpl.id}`)).statusCode, 409);
    for (const c of clones) assert.equal((await api('DELETE', `/api/vms/${c.uuid}`)).statusCode, 202);
    for (const c of clones) await waitGone(t.app, user, c.uuid, 120_000);
    assert.equal((await api('DELETE', `/api/templates/${tpl.id}`)).statusCode, 204);
    assert.equal(existsSync(base), false);
  });
});
