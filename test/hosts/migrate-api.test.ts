// VM migration rules over two simulated hosts (libvirt's test driver: test:///default and a node
// file of its own): who may migrate, which targets are refused and how (nothing changes on a
// refusal), a cold move of a stopped VM (definition on the target only, vms.host updated, quota
// unchanged, audit, metric, vm.updated event), refusals while migrating, and crash recovery by the
// reconciler (a definition on both hosts keeps the one vms.host names). The real two-daemon test,
// with a live migration, is test/hosts/migrate-real.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { assertErrorBody } from '../helpers/contract.js';
import { waitFor, waitState, type VmJson } from '../vms/vm-helpers.js';
import { writeTestNode } from './test-node.js';
import { sql } from 'drizzle-orm';

type Vm = VmJson & { host: string; migrating_to: string | null; error_message: string | null };

describe('VM migration (simulated hosts)', () => {
  let t: TestApp;
  let admin: TestUser;
  let user: TestUser;
  let other: TestUser;

  const vm = async (uuid: string, who = admin): Promise<Vm> => (await t.app.inject({ method: 'GET', url: `/api/vms/${uuid}`, headers: who.auth })).json<Vm>();
  const migrate = (uuid: string, host: string, who = admin) => t.app.inject({ method: 'POST', url: `/api/admin/vms/${uuid}/migrate`, headers: who.auth, payload: { host } });
  const domains = async (host: string) => (await t.app.limen.hosts.registry.driverFor(host).listDomains()).map((d) => d.uuid);
  const usage = async () => (await t.app.inject({ method: 'GET', url: '/api/quota', headers: user.auth })).json<{ usage: Record<string, number> }>().usage;
  const create = async (name: string, memory_mb = 256): Promise<Vm> => {
    const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: user.auth, payload: { name, vcpus: 1, memory_mb, disk_gb: 1 } });
    assert.equal(r.statusCode, 202, r.body);
    const v = (await waitState(t.app, user, r.json<Vm>().uuid, 'stopped')) as Vm;
    // provisioning finishes its audit after the state write: wait until nothing runs on the VM
    await waitFor('provisioning done', () => !t.app.limen.vmAccess.isBusy(v.uuid), 10_000);
    return v;
  };

  before(async () => {
    t = await buildTestApp({ env: { LIMEN_MEMORY_OVERCOMMIT: '1' }, vmOptions: { reconcileEveryMs: 200 } });
    [admin, user, other] = await Promise.all([newAdmin(t.app), newUser(t.app), newUser(t.app)]);
    await t.app.inject({ method: 'PUT', url: `/api/admin/users/${user.id}/quota`, headers: admin.auth, payload: { vms: 20, vcpus: 20, memory_mb: 65536, disk_gb: 100 } });
    for (const [name, mem] of [['h2', 3072], ['small', 128]] as const) {
      const r = await t.app.inject({ method: 'POST', url: '/api/admin/hosts', headers: admin.auth, payload: { name, uri: writeTestNode(t.dataDir, name, 4, mem) } });
      assert.equal(r.statusCode, 201, r.body);
    }
  });
  after(() => t.close());

  test('only admins migrate: a user gets 403 on the admin route (their own VM or not); unknown VM and host are 404', async () => {
    const v = await create('authz');
    assertErrorBody(await migrate(v.uuid, 'h2', user), 403, 'FORBIDDEN');
    assertErrorBody(await migrate(v.uuid, 'h2', other), 403, 'FORBIDDEN');
    assertErrorBody(await migrate('00000000-0000-4000-8000-000000000000', 'h2'), 404, 'NOT_FOUND');
    assertErrorBody(await migrate(v.uuid, 'nope'), 404, 'NOT_FOUND');
    assertErrorBody(await t.app.inject({ method: 'POST', url: `/api/admin/vms/${v.uuid}/migrate`, headers: admin.auth, payload: { host: 'Bad Name!' } }), 400, 'VALIDATION_FAILED');
    assert.equal((await vm(v.uuid)).host, v.host);
    assert.equal((await vm(v.uuid)).migrating_to, null);
  });

  test('refused targets leave the VM unchanged: same host, draining, unreachable, no capacity', async () => {
    const v = await create('refusals');
    const to = v.host === 'h2' ? 'default' : 'h2';
    assertErrorBody(await migrate(v.uuid, v.host), 409, 'CONFLICT');
    assert.equal((await t.app.inject({ method: 'POST', url: `/api/admin/hosts/${to}/drain`, headers: admin.auth })).statusCode, 200);
    const drained = await migrate(v.uuid, to);
    assertErrorBody(drained, 409, 'CONFLICT');
    assert.match(drained.json<{ message: string }>().message, /draining/);
    assert.equal((await t.app.inject({ method: 'POST', url: `/api/admin/hosts/${to}/undrain`, headers: admin.auth })).statusCode, 200);
    // 'small' has 128 MiB and overcommit 1: a 256 MiB VM does not fit
    const full = await migrate(v.uuid, 'small');
    assertErrorBody(full, 409, 'HOST_CAPACITY_EXCEEDED');
    assert.deepEqual(full.json<{ details: { resource: string; host: string } }>().details.resource, 'memory_mb');
    // an unreachable target: its connection is down
    const smallDriver = t.app.limen.hosts.registry.driverFor('small');
    await smallDriver.close();
    assertErrorBody(await migrate(v.uuid, 'small'), 503, 'UNAVAILABLE');
    await smallDriver.connect();
    const after = await vm(v.uuid);
    assert.equal(after.host, v.host);
    assert.equal(after.migrating_to, null);
    assert.ok((await domains(v.host)).includes(v.uuid));
    assert.ok(!(await domains(to)).includes(v.uuid));
  });

  test('a running VM cannot move live between simulated hosts (409, stays running where it is)', async () => {
    const v = await create('live-sim');
    assert.equal((await t.app.inject({ method: 'POST', url: `/api/vms/${v.uuid}/action`, headers: user.auth, payload: { action: 'start' } })).statusCode, 202);
    await waitState(t.app, user, v.uuid, 'running');
    const r = await migrate(v.uuid, v.host === 'h2' ? 'default' : 'h2');
    assertErrorBody(r, 409, 'INVALID_STATE');
    assert.match(r.json<{ message: string }>().message, /Live migration needs QEMU/);
    const same = await vm(v.uuid);
    assert.equal(same.state, 'running');
    assert.equal(same.host, v.host);
  });

  test('cold migration of a stopped VM: definition moves, host updated, quota unchanged, audited, counted, event sent', async () => {
    const v = await create('cold');
    const to = v.host === 'h2' ? 'default' : 'h2';
    const before = await usage();
    const ws = await t.app.injectWS('/ws/events', { headers: user.auth });
    const frames: { type: string; vm?: Vm }[] = [];
    ws.on('message', (d: Buffer) => frames.push(JSON.parse(d.toString()) as { type: string; vm?: Vm }));
    const r = await migrate(v.uuid, to);
    assert.equal(r.statusCode, 200, r.body);
    const moved = r.json<Vm>();
    assert.equal(moved.host, to);
    assert.equal(moved.migrating_to, null);
    assert.equal(moved.state, 'stopped');
    assert.ok((await domains(to)).includes(v.uuid), 'defined on the target');
    assert.ok(!(await domains(v.host)).includes(v.uuid), 'gone from the source');
    assert.deepEqual(await usage(), before, 'quota usage unchanged');
    await waitFor('vm.updated naming the new host', () => frames.some((f) => f.type === 'vm.updated' && f.vm?.uuid === v.uuid && f.vm.host === to && f.vm.migrating_to === null), 10_000);
    assert.ok(frames.some((f) => f.type === 'vm.updated' && f.vm?.migrating_to === to), 'the move was visible while it ran');
    ws.terminate();
    // it starts on its new host
    assert.equal((await t.app.inject({ method: 'POST', url: `/api/vms/${v.uuid}/action`, headers: user.auth, payload: { action: 'start' } })).statusCode, 202);
    await waitState(t.app, user, v.uuid, 'running');
    assert.equal(await t.app.limen.hosts.registry.driverFor(to).getState(v.uuid), 'running');
    const audit = (await t.app.inject({ method: 'GET', url: `/api/admin/audit?action=vm.migrate`, headers: admin.auth })).json<{ items: { target_id: string; result: string; details: { to?: string; phase?: string } }[] }>();
    const mine = audit.items.filter((a) => a.target_id === v.uuid);
    assert.ok(mine.some((a) => a.result === 'success' && a.details.phase === 'accepted'));
    assert.ok(mine.some((a) => a.result === 'success' && a.details.to === to && a.details.phase === undefined));
    const metrics = (await t.app.inject({ method: 'GET', url: '/api/metrics' })).body;
    assert.match(metrics, /vm_action_total\{action="migrate",result="success"\} [1-9]/);
    assert.match(metrics, /vm_action_total\{action="migrate",result="failure"\} [1-9]/);
  });

  test('a VM with snapshots moves cold with them (simulated hosts share storage: nothing copied); revert works on the target', async () => {
    const v = await create('snappy');
    const to = v.host === 'h2' ? 'default' : 'h2';
    const snap = async (name: string) => {
      const r = await t.app.inject({ method: 'POST', url: `/api/vms/${v.uuid}/snapshots`, headers: user.auth, payload: { name } });
      assert.equal(r.statusCode, 202, r.body);
      const id = r.json<{ id: string }>().id;
      return waitFor(`snapshot ${name}`, async () => (await t.app.inject({ method: 'GET', url: `/api/vms/${v.uuid}/snapshots`, headers: user.auth })).json<{ items: { id: string; state: string }[] }>().items.find((x) => x.id === id && x.state === 'ready'), 10_000);
    };
    const a = await snap('a');
    await snap('b');
    const r = await migrate(v.uuid, to);
    assert.equal(r.statusCode, 200, r.body);
    assert.equal((await t.app.limen.hosts.registry.driverFor(to).listSnapshots(v.uuid)).length, 2, 'both snapshots defined on the target');
    const audit = (await t.app.inject({ method: 'GET', url: `/api/admin/audit?action=vm.migrate`, headers: admin.auth })).json<{ items: { target_id: string; details: { storage?: string; phase?: string } }[] }>();
    assert.ok(audit.items.some((x) => x.target_id === v.uuid && x.details.phase === undefined && x.details.storage === 'shared'), 'the probe found the storage shared');
    const rev = await t.app.inject({ method: 'POST', url: `/api/snapshots/${a.id}/restore`, headers: user.auth });
    assert.equal(rev.statusCode, 202, rev.body);
    await waitFor('revert done', async () => (await t.app.inject({ method: 'GET', url: `/api/vms/${v.uuid}/snapshots`, headers: user.auth })).json<{ items: { id: string; state: string }[] }>().items.find((x) => x.id === a.id && x.state === 'ready'), 10_000);
    assert.equal((await vm(v.uuid)).host, to);
  });

  test('a target that cannot open the disk refuses with 409 and removes its copy; the VM stays', async () => {
    const v = await create('nodisk');
    const to = v.host === 'h2' ? 'default' : 'h2';
    unlinkSync(join(t.dataDir, 'disks', `${v.uuid}.qcow2`));
    const r = await migrate(v.uuid, to);
    assertErrorBody(r, 409, 'CONFLICT');
    assert.match(r.json<{ message: string }>().message, /cannot open the VM's disk/);
    const same = await vm(v.uuid);
    assert.equal(same.host, v.host);
    assert.equal(same.migrating_to, null);
    assert.match(same.error_message ?? '', /migration to .* failed/);
    assert.ok(!(await domains(to)).includes(v.uuid), 'the copied definition was removed');
    assert.ok((await domains(v.host)).includes(v.uuid));
  });

  test('while a VM is marked migrating, actions, edits and deletion answer 409', async () => {
    const v = await create('busy');
    const to = v.host === 'h2' ? 'default' : 'h2';
    // held like a running migration holds it (lock + busy): the reconciler leaves the row alone
    await t.app.limen.vmAccess.exclusive(v.uuid, async () => {
      await t.app.limen.database.db.execute(sql`update vms set migrating_to = ${to} where uuid = ${v.uuid}`);
      assertErrorBody(await t.app.inject({ method: 'POST', url: `/api/vms/${v.uuid}/action`, headers: user.auth, payload: { action: 'start' } }), 409, 'INVALID_STATE');
      assertErrorBody(await t.app.inject({ method: 'DELETE', url: `/api/vms/${v.uuid}`, headers: user.auth }), 409, 'INVALID_STATE');
      assertErrorBody(await t.app.inject({ method: 'PATCH', url: `/api/vms/${v.uuid}`, headers: user.auth, payload: { vcpus: 2 } }), 409, 'INVALID_STATE');
      assertErrorBody(await migrate(v.uuid, to), 409, 'CONFLICT');
      await new Promise((r) => setTimeout(r, 600)); // several reconciler ticks
      assert.equal((await vm(v.uuid, user)).migrating_to, to);
    });
    // released: the reconciler settles the interrupted move (nothing on the target: stays)
    const settled = await waitFor('migration settled', async () => {
      const x = await vm(v.uuid);
      return x.migrating_to === null ? x : undefined;
    }, 60_000);
    assert.equal(settled.host, v.host);
  });

  test('crash recovery: a definition on both hosts with the move uncommitted keeps the source; committed keeps the target and drops the leftover', async () => {
    const a = await create('crash-a');
    const b = await create('crash-b');
    for (const [v, committed] of [[a, false], [b, true]] as const) {
      const from = v.host;
      const to = from === 'h2' ? 'default' : 'h2';
      const src = t.app.limen.hosts.registry.driverFor(from);
      const dst = t.app.limen.hosts.registry.driverFor(to);
      // what a crash between "define on target" and the commit (or after the commit) leaves
      await t.app.limen.vmAccess.exclusive(v.uuid, async () => {
        await dst.defineDomainXml(v.uuid, await src.getDomainXml(v.uuid, { inactive: true }));
        if (committed) await t.app.limen.database.db.execute(sql`update vms set host = ${to} where uuid = ${v.uuid}`);
        else await t.app.limen.database.db.execute(sql`update vms set migrating_to = ${to} where uuid = ${v.uuid}`);
      });
      const keep = committed ? to : from;
      const drop = committed ? from : to;
      await waitFor(`only ${keep} has ${v.uuid}`, async () => !(await domains(drop)).includes(v.uuid) && (await domains(keep)).includes(v.uuid), 60_000);
      const x = await waitFor('row settled', async () => {
        const r = await vm(v.uuid);
        return r.migrating_to === null ? r : undefined;
      }, 60_000);
      assert.equal(x.host, keep);
      assert.equal(x.state, 'stopped', 'never marked missing');
    }
    const orphans = (await t.app.inject({ method: 'GET', url: '/api/admin/vms', headers: admin.auth })).json<{ orphans: unknown[] }>().orphans;
    assert.deepEqual(orphans, []);
  });

  test('limen vms migrate <uuid> <host> moves a VM through the running instance; a refusal exits 1 with the reason', async () => {
    const v = await create('by-cli');
    const to = v.host === 'h2' ? 'default' : 'h2';
    const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const cli = (...args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const env = { ...process.env, LIMEN_DATA_DIR: t.dataDir, LIMEN_URL: url, LIMEN_ADMIN_USER: admin.username, LIMEN_ADMIN_PASSWORD: admin.password };
        execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'vms', 'migrate', ...args], { env, timeout: 120_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        );
      });
    const ok = await cli(v.uuid, to);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, new RegExp(`is on ${to}, stopped`));
    assert.equal((await vm(v.uuid)).host, to);
    const refused = await cli(v.uuid, to);
    assert.equal(refused.code, 1, refused.out);
    assert.match(refused.out, /409 CONFLICT.*already on host/);
  });
});
