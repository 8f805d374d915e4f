// Templates through app.inject on PGlite + libvirt's test driver, with the real qemu-img and
// genisoimage: a template from a stopped VM (base copied, read-only), linked clones whose disk is
// an overlay on the base, full clones that are independent, batches that are all-or-nothing,
// visibility, quota, delete refused while clones depend on it, cloud-image import checks, SSH keys
// and the cloud-init seed ISO read back with our own ISO 9660 reader.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { assertErrorBody } from '../helpers/contract.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { readIso } from '../helpers/iso9660.js';
import { parseDomainXml } from '../../src/hypervisor/index.js';
import { unlimitedQuota, waitFor, waitGone, waitState, type VmJson } from '../vms/vm-helpers.js';
import { newSshPublicKey, qemuImgInfo, waitTemplateReady, type TemplateJson } from './template-fixtures.js';

const small = { vcpus: 1, memory_mb: 64, disk_gb: 1 };

describe('templates API (test driver, real qemu-img and genisoimage)', { timeout: 240_000 }, () => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let admin: TestUser;
  let tpl: TemplateJson;
  let scratch: string;

  const api = (u: TestUser, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: u.auth, ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) });
  const diskOf = (uuid: string) => join(t.dataDir, 'disks', `${uuid}.qcow2`);
  const importImage = (u: TestUser, query: string, body: Buffer) =>
    t.app.inject({ method: 'POST', url: `/api/templates/import?${query}`, headers: { ...u.auth, 'content-type': 'application/octet-stream' }, payload: body });

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'templates-api-'));
    t = await buildTestApp({ vmOptions: { shutdownTimeoutMs: 2_000, reconcileEveryMs: 500, addressesEveryMs: 300 } });
    [alice, bob, admin] = await Promise.all([newUser(t.app), newUser(t.app), newAdmin(t.app)]);
    await unlimitedQuota(t.app, admin, alice.id);
    await unlimitedQuota(t.app, admin, bob.id);
  });
  after(async () => {
    for (const vm of (await api(admin, 'GET', '/api/admin/vms')).json<{ items: VmJson[] }>().items) {
      await api(admin, 'DELETE', `/api/vms/${vm.uuid}`);
      await waitGone(t.app, admin, vm.uuid).catch(() => undefined);
    }
    await t.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('a template from a stopped VM: refused while running; the base is a flattened read-only copy; the VM stays', async () => {
    const src = (await api(alice, 'POST', '/api/vms', { name: 'golden', ...small, start: true })).json<VmJson>();
    await waitState(t.app, alice, src.uuid, 'running');
    assertErrorBody(await api(alice, 'POST', '/api/templates', { vm: src.uuid, name: 'golden image' }), 409, 'INVALID_STATE');
    assert.equal((await api(alice, 'POST', `/api/vms/${src.uuid}/action`, { action: 'stop' })).statusCode, 202);
    await waitState(t.app, alice, src.uuid, 'stopped');
    // another user's VM does not exist for bob
    assertErrorBody(await api(bob, 'POST', '/api/templates', { vm: src.uuid, name: 'stolen' }), 404, 'NOT_FOUND');

    const r = await api(alice, 'POST', '/api/templates', { vm: src.uuid, name: 'golden image', description: 'made from "golden" <vm>', min_memory_mb: 64 });
    assert.equal(r.statusCode, 202, r.body);
    assert.equal(r.json<TemplateJson>().state, 'creating');
    tpl = await waitTemplateReady(t.app, alice, r.json<TemplateJson>().id);
    assert.equal(tpl.visibility, 'private');
    assert.equal(tpl.owner_id, alice.id);
    assert.equal(tpl.min_disk_gb, 1);
    assert.equal(tpl.virtual_size_bytes, 1024 ** 3);
    const base = join(t.dataDir, 'templates', `${tpl.id}.qcow2`);
    assert.equal(statSync(base).mode & 0o777, 0o444, 'base image is read-only for everyone');
    const info = qemuImgInfo(base);
    assert.equal(info.format, 'qcow2');
    assert.equal(info['backing-filename'], undefined, 'a base has no backing file');
    assert.equal((await api(alice, 'GET', `/api/vms/${src.uuid}`)).statusCode, 200, 'the source VM stays');
    assertErrorBody(await api(alice, 'POST', '/api/templates', { vm: src.uuid, name: 'GOLDEN image' }), 409, 'CONFLICT');
  });

  test('linked clone: the disk is a qcow2 overlay whose backing file is the base; full clone: an independent copy', async () => {
    const base = join(t.dataDir, 'templates', `${tpl.id}.qcow2`);
    const linked = await api(alice, 'POST', '/api/vms', { name: 'linked-1', template: tpl.id });
    assert.equal(linked.statusCode, 202, linked.body);
    const lv = linked.json<VmJson>();
    assert.equal(lv.template, tpl.id);
    assert.equal(lv.clone_mode, 'linked');
    assert.equal(lv.vcpus, 1, 'sizes default to the template minimums');
    await waitState(t.app, alice, lv.uuid, 'stopped');
    const li = qemuImgInfo(diskOf(lv.uuid));
    assert.equal(li['full-backing-filename'] ?? li['backing-filename'], base);
    assert.equal(li['backing-filename-format'], 'qcow2');
    assert.ok(li['actual-size'] < 1024 * 1024, `an overlay starts tiny (${li['actual-size']} bytes)`);

    const full = await api(alice, 'POST', '/api/vms', { name: 'full-1', template: tpl.id, clone_mode: 'full', disk_gb: 2 });
    assert.equal(full.statusCode, 202, full.body);
    const fv = full.json<VmJson>();
    await waitState(t.app, alice, fv.uuid, 'stopped');
    const fi = qemuImgInfo(diskOf(fv.uuid));
    assert.equal(fi['backing-filename'], undefined, 'a full clone has no backing file');
    assert.equal(fi['virtual-size'], 2 * 1024 ** 3, 'grown to the requested size');

    assertErrorBody(await api(alice, 'POST', '/api/vms', { name: 'too-small', template: tpl.id, memory_mb: 32 }), 400, 'VALIDATION_FAILED');
    assertErrorBody(await api(alice, 'POST', '/api/vms', { name: 'no-ci', template: tpl.id, user_data: '#cloud-config\n{}' }), 400, 'VALIDATION_FAILED');
    assertErrorBody(await api(alice, 'POST', '/api/vms', { name: 'no-size' }), 400, 'VALIDATION_FAILED');

    // delete is refused while the linked clone depends on the base; the full clone does not count
    const refused = await api(alice, 'DELETE', `/api/templates/${tpl.id}`);
    assertErrorBody(refused, 409, 'CONFLICT');
    assert.equal(refused.json<{ details: { vms: number } }>().details.vms, 1);
    const detail = (await api(alice, 'GET', `/api/templates/${tpl.id}`)).json<{ clones: { linked: number; full: number } }>();
    assert.deepEqual(detail.clones, { linked: 1, full: 1 });
    await api(alice, 'DELETE', `/api/vms/${lv.uuid}`);
    await waitGone(t.app, alice, lv.uuid);
    assert.equal(existsSync(diskOf(lv.uuid)), false, 'overlay removed with its VM');
    assert.equal(existsSync(base), true, 'the base stays when a clone goes');
  });

  test('visibility: private is invisible to others (404), "everyone" is for admins to set, owners manage', async () => {
    assertErrorBody(await api(bob, 'GET', `/api/templates/${tpl.id}`), 404, 'NOT_FOUND');
    assert.ok(!(await api(bob, 'GET', '/api/templates')).json<{ items: TemplateJson[] }>().items.some((x) => x.id === tpl.id));
    assertErrorBody(await api(bob, 'POST', '/api/vms', { name: 'sneaky', template: tpl.id }), 404, 'NOT_FOUND');
    assertErrorBody(await api(alice, 'PATCH', `/api/templates/${tpl.id}`, { visibility: 'everyone' }), 400, 'VALIDATION_FAILED');
    const shared = await api(admin, 'PATCH', `/api/templates/${tpl.id}`, { visibility: 'everyone' });
    assert.equal(shared.statusCode, 200, shared.body);
    assert.ok((await api(bob, 'GET', '/api/templates')).json<{ items: TemplateJson[] }>().items.some((x) => x.id === tpl.id));
    assertErrorBody(await api(bob, 'PATCH', `/api/templates/${tpl.id}`, { name: 'mine now' }), 403, 'FORBIDDEN');
    assertErrorBody(await api(bob, 'DELETE', `/api/templates/${tpl.id}`), 403, 'FORBIDDEN');
    assertErrorBody(await api(alice, 'PATCH', `/api/templates/${tpl.id}`, { visibility: 'group' }), 400, 'VALIDATION_FAILED');
  });

  test('batch: N clones in one request, all or none (quota, duplicate names); clones count against the owner quota', async () => {
    const ok = await api(bob, 'POST', '/api/vms/batch', { template: tpl.id, name_prefix: 'lab', count: 3 });
    assert.equal(ok.statusCode, 202, ok.body);
    const items = ok.json<{ items: VmJson[] }>().items;
    assert.deepEqual(items.map((v) => v.name), ['lab-1', 'lab-2', 'lab-3']);
    for (const v of items) await waitState(t.app, bob, v.uuid, 'stopped');
    for (const v of items) assert.ok(qemuImgInfo(diskOf(v.uuid))['backing-filename'], 'each is an overlay');

    // a name already taken fails the whole batch
    assertErrorBody(await api(bob, 'POST', '/api/vms/batch', { template: tpl.id, name_prefix: 'lab', count: 5 }), 409, 'CONFLICT');
    // quota: bob may have 5 VMs; 3 exist, 3 more do not fit → none is created
    await t.app.inject({ method: 'PUT', url: `/api/admin/users/${bob.id}/quota`, headers: admin.auth, payload: { vms: 5 } });
    const denied = await api(bob, 'POST', '/api/vms/batch', { template: tpl.id, name_prefix: 'more', count: 3 });
    assertErrorBody(denied, 403, 'QUOTA_EXCEEDED');
    const names = (await api(bob, 'GET', '/api/vms')).json<{ items: VmJson[] }>().items.map((v) => v.name);
    assert.deepEqual(names.sort(), ['lab-1', 'lab-2', 'lab-3'], 'nothing of the refused batch exists');
    const quota = (await api(bob, 'GET', '/api/quota')).json<{ usage: { vms: number; disk_gb: number } }>();
    assert.equal(quota.usage.vms, 3);
    assert.equal(quota.usage.disk_gb, 3, 'a clone counts its virtual size');
  });

  test('template disk counts against its owner’s disk quota', async () => {
    const before = (await api(alice, 'GET', '/api/quota')).json<{ usage: { disk_gb: number } }>().usage.disk_gb;
    const vm = (await api(alice, 'POST', '/api/vms', { name: 'for-quota', ...small })).json<VmJson>();
    await waitState(t.app, alice, vm.uuid, 'stopped');
    await t.app.inject({ method: 'PUT', url: `/api/admin/users/${alice.id}/quota`, headers: admin.auth, payload: { disk_gb: before + 1 } });
    assertErrorBody(await api(alice, 'POST', '/api/templates', { vm: vm.uuid, name: 'over quota' }), 403, 'QUOTA_EXCEEDED');
    await unlimitedQuota(t.app, admin, alice.id);
    const r = await api(alice, 'POST', '/api/templates', { vm: vm.uuid, name: 'within quota' });
    assert.equal(r.statusCode, 202, r.body);
    await waitTemplateReady(t.app, alice, r.json<TemplateJson>().id);
    const after = (await api(alice, 'GET', '/api/quota')).json<{ usage: { disk_gb: number } }>().usage.disk_gb;
    assert.equal(after, before + 2, 'VM disk 1 + template 1');
  });

  test('cloud image import: qcow2 only, no backing or data file; streamed; sizes from the image', async () => {
    const good = join(scratch, 'cloud.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', good, '3G']);
    const raw = join(scratch, 'raw.img');
    writeFileSync(raw, Buffer.alloc(1024 * 1024));
    const backed = join(scratch, 'backed.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '/etc/hostname', '-F', 'raw', backed, '1G']);

    assertErrorBody(await importImage(alice, 'name=raw', readFileSync(raw)), 400, 'VALIDATION_FAILED');
    const b = await importImage(alice, 'name=backed', readFileSync(backed));
    assertErrorBody(b, 400, 'VALIDATION_FAILED');
    assert.match(b.json<{ message: string }>().message, /backing file/);
    const json = await t.app.inject({ method: 'POST', url: '/api/templates/import?name=j', headers: alice.auth, payload: { a: 1 } });
    assert.equal(json.statusCode, 415);

    const r = await importImage(alice, 'name=debian-cloud&description=Debian%2012&min_memory_mb=128', readFileSync(good));
    assert.equal(r.statusCode, 201, r.body);
    const ct = r.json<TemplateJson>();
    assert.equal(ct.state, 'ready');
    assert.equal(ct.cloud_init, true, 'cloud images default to cloud-init');
    assert.equal(ct.min_disk_gb, 3);
    assert.equal(statSync(join(t.dataDir, 'templates', `${ct.id}.qcow2`)).mode & 0o777, 0o444);
    const leftovers = (await import('node:fs')).readdirSync(join(t.dataDir, 'templates')).filter((f) => f.endsWith('.part'));
    assert.deepEqual(leftovers, [], 'no upload temp files left');
  });

  test('SSH keys in the profile: format validated, own keys only; a cloud-init clone gets a NoCloud seed ISO with them', async () => {
    for (const bad of ['ssh-ed25519', 'ssh-ed25519 !!!notbase64', `ssh-rsa ${newSshPublicKey().split(' ')[1]}`, 'ssh-dss AAAAB3NzaC1kc3MAAACBAP', `ssh-ed25519 ${newSshPublicKey().split(' ')[1]} a\nb`]) {
      assertErrorBody(await api(alice, 'POST', '/api/me/ssh-keys', { public_key: bad }), 400, 'VALIDATION_FAILED');
    }
    const key = newSshPublicKey('alice@laptop');
    const added = await api(alice, 'POST', '/api/me/ssh-keys', { public_key: key });
    assert.equal(added.statusCode, 201, added.body);
    assert.equal(added.json<{ name: string }>().name, 'alice@laptop');
    assert.match(added.json<{ fingerprint: string }>().fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assertErrorBody(await api(alice, 'POST', '/api/me/ssh-keys', { public_key: key }), 409, 'CONFLICT');
    const keyId = added.json<{ id: string }>().id;
    assertErrorBody(await api(bob, 'DELETE', `/api/me/ssh-keys/${keyId}`), 404, 'NOT_FOUND');
    assert.equal((await api(bob, 'GET', '/api/me/ssh-keys')).json<{ total: number }>().total, 0);

    const ct = (await api(alice, 'GET', '/api/templates')).json<{ items: TemplateJson[] }>().items.find((x) => x.name === 'debian-cloud')!;
    assertErrorBody(await api(alice, 'POST', '/api/vms', { name: 'bad-ud', template: ct.id, user_data: 'echo hi' }), 400, 'VALIDATION_FAILED');
    assertErrorBody(await api(alice, 'POST', '/api/vms', { name: 'bad-yaml', template: ct.id, user_data: '#cloud-config\npackages: [a\n' }), 400, 'VALIDATION_FAILED');
    const userData = '#cloud-config\npackages:\n  - htop\nhostname: ignored\n';
    const r = await api(alice, 'POST', '/api/vms', { name: 'Web Server #1', template: ct.id, user_data: userData });
    assert.equal(r.statusCode, 202, r.body);
    const vm = r.json<VmJson>();
    assert.equal(vm.cloud_init, true);
    await waitState(t.app, alice, vm.uuid, 'stopped');

    const seedPath = join(t.dataDir, 'disks', `${vm.uuid}-cidata.iso`);
    const iso = readIso(readFileSync(seedPath));
    assert.equal(iso.volumeId, 'cidata');
    assert.deepEqual([...iso.files.keys()].sort(), ['meta-data', 'user-data']);
    const meta = String(iso.files.get('meta-data'));
    assert.match(meta, new RegExp(`"instance-id": "${vm.uuid}"`));
    assert.match(meta, /"local-hostname": "web-server-1"/);
    const ud = String(iso.files.get('user-data'));
    assert.ok(ud.startsWith('#cloud-config\n'));
    const doc = JSON.parse(ud.slice('#cloud-config\n'.length)) as { hostname: string; ssh_authorized_keys: string[]; packages: string[] };
    assert.equal(doc.hostname, 'web-server-1', 'LIMEN’s hostname wins over the user-data one');
    assert.deepEqual(doc.packages, ['htop'], 'user-data merged');
    assert.deepEqual(doc.ssh_authorized_keys, [key.split(' ').slice(0, 2).join(' ')]);

    // the seed is a second read-only CD-ROM; the media drive stays the first
    const xml = parseDomainXml(await t.driver.getDomainXml(vm.uuid, { inactive: true }));
    const cds = xml.disks.filter((d) => d.device === 'cdrom');
    assert.equal(cds.length, 2);
    assert.equal(cds[1]!.source, seedPath);
    assert.equal(cds[0]!.source, null);

    await api(alice, 'DELETE', `/api/vms/${vm.uuid}`);
    await waitGone(t.app, alice, vm.uuid);
    assert.equal(existsSync(seedPath), false, 'seed removed with the VM');
  });

  test('a failed clone rolls back: no row, no overlay, no domain', async () => {
    const ct = (await api(alice, 'GET', '/api/templates')).json<{ items: TemplateJson[] }>().items.find((x) => x.name === 'debian-cloud')!;
    const base = join(t.dataDir, 'templates', `${ct.id}.qcow2`);
    const hidden = `${base}.away`;
    (await import('node:fs')).renameSync(base, hidden); // the base vanishes under LIMEN
    try {
      const r = await api(alice, 'POST', '/api/vms', { name: 'doomed', template: ct.id });
      assert.equal(r.statusCode, 202, r.body);
      const vm = r.json<VmJson>();
      await waitGone(t.app, alice, vm.uuid);
      assert.equal(existsSync(diskOf(vm.uuid)), false, 'no orphan overlay');
      assert.equal(existsSync(join(t.dataDir, 'disks', `${vm.uuid}-cidata.iso`)), false, 'no orphan seed');
      assert.ok(!(await t.driver.listDomains()).some((d) => d.uuid === vm.uuid), 'no half-defined domain');
    } finally {
      (await import('node:fs')).renameSync(hidden, base);
    }
  });

  test('delete: 204 once nothing depends on it; base removed; full clones keep working with template null', async () => {
    const fullVm = (await api(alice, 'GET', '/api/vms')).json<{ items: VmJson[] }>().items.find((v) => v.name === 'full-1')!;
    for (const v of (await api(bob, 'GET', '/api/vms')).json<{ items: VmJson[] }>().items) {
      await api(bob, 'DELETE', `/api/vms/${v.uuid}`);
      await waitGone(t.app, bob, v.uuid);
    }
    const r = await api(alice, 'DELETE', `/api/templates/${tpl.id}`);
    assert.equal(r.statusCode, 204, r.body);
    assert.equal(existsSync(join(t.dataDir, 'templates', `${tpl.id}.qcow2`)), false);
    const after = (await api(alice, 'GET', `/api/vms/${fullVm.uuid}`)).json<VmJson>();
    assert.equal(after.template, null);
    assert.equal(after.clone_mode, 'full');
  });

  test('guest addresses: a running VM shows what libvirt reports (test driver: a DHCP lease), a stopped one none', async () => {
    const vm = (await api(alice, 'POST', '/api/vms', { name: 'addressed', ...small, start: true })).json<VmJson>();
    assert.deepEqual(vm.ip_addresses, []);
    const seen = await waitFor('an address on the VM', async () => {
      const v = (await api(alice, 'GET', `/api/vms/${vm.uuid}`)).json<VmJson>();
      return (v.ip_addresses as string[]).length > 0 ? v : undefined;
    }, 30_000);
    assert.deepEqual(seen.ip_addresses, ['192.168.122.3']);
    assert.equal(seen.ip_source, 'lease');
    assert.equal((await api(alice, 'POST', `/api/vms/${vm.uuid}/action`, { action: 'stop' })).statusCode, 202);
    await waitState(t.app, alice, vm.uuid, 'stopped');
    const cleared = await waitFor('addresses cleared', async () => {
      const v = (await api(alice, 'GET', `/api/vms/${vm.uuid}`)).json<VmJson>();
      return (v.ip_addresses as string[]).length === 0 ? v : undefined;
    }, 30_000);
    assert.equal(cleared.ip_source, null);
  });

  test('crash mid-template: a creating row nobody copies is removed with its partial file by the reconciler', async () => {
    const id = '5e1f0c3a-0000-4000-8000-000000000001';
    const partial = join(t.dataDir, 'templates', `${id}.qcow2`);
    writeFileSync(partial, 'half a copy');
    await t.db.database.db.execute((await import('drizzle-orm')).sql`insert into vm_templates (id, name, owner_id, visibility, source, state, base_path)
      values (${id}, 'interrupted', ${alice.id}, 'private', 'vm', 'creating', ${partial})`);
    await waitFor('interrupted template removed', async () => (await api(admin, 'GET', `/api/templates/${id}`)).statusCode === 404 || undefined, 30_000);
    assert.equal(existsSync(partial), false);
  });
});
