// One contract suite, run against every URI: test:///default always (the fast-tier stand-in) and
// the real daemon from $LIMEN_TEST_LIBVIRT_URI (qemu:///system under scripts/test.sh; required
// when LIMEN_TEST_REAL=1). Guests are tiny TCG machines booting the GRUB rescue CD.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readRfbGreeting } from '../vms/vm-helpers.js';
import {
  createDiskImages,
  createLibvirtDriver,
  isHypervisorError,
  type DomainEvent,
  type DomainEventType,
  type HypervisorDriver,
} from '../../src/hypervisor/index.js';

const ISO = ['/usr/lib/grub-rescue/grub-rescue-cdrom.iso', '/usr/share/grub-rescue/grub-rescue-cdrom.iso'].find((p) => existsSync(p));
const REAL = process.env.LIMEN_TEST_REAL === '1';
const REAL_URI = process.env.LIMEN_TEST_LIBVIRT_URI;
const STATE = resolve(process.env.LIMEN_STATE ?? '.state');

if (REAL && !REAL_URI) throw new Error('LIMEN_TEST_REAL=1 but LIMEN_TEST_LIBVIRT_URI is not set: libvirt did not start');
if (REAL && !ISO) throw new Error('LIMEN_TEST_REAL=1 but the GRUB rescue ISO (grub-rescue-pc) is missing');

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function expectKind(p: Promise<unknown>, kind: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => isHypervisorError(e) && e.kind === kind);
}

/** Makes every directory from STATE down to dir traversable by libvirt-qemu (o+x). */
async function traversable(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  let d = dir;
  while (d.length > 1) {
    await chmod(d, 0o755).catch(() => undefined);
    if (d === STATE) break;
    d = resolve(d, '..');
  }
  for (let p = resolve(STATE, '..'); p.length > 1; p = resolve(p, '..')) {
    const { stat } = await import('node:fs/promises');
    const st = await stat(p);
    if ((st.mode & 0o001) === 0) await chmod(p, st.mode | 0o001);
  }
}

export function driverContract(uri: string): void {
  const isReal = !uri.startsWith('test:');
  describe(`HypervisorDriver contract: ${uri}`, { timeout: 120_000 }, () => {
    let driver: HypervisorDriver;
    const disks = createDiskImages();
    const dir = join(STATE, 'hv-contract', randomUUID());
    const created: string[] = [];
    const events: DomainEvent[] = [];
    let unsub: () => void = () => undefined;

    const newDomain = async (opts: { disk?: boolean; iso?: boolean } = {}): Promise<string> => {
      const uuid = randomUUID();
      let diskPath: string | undefined;
      if (opts.disk !== false) {
        diskPath = join(dir, `${uuid}.qcow2`);
        await disks.createDisk(diskPath, 1);
      }
      created.push(uuid);
      await driver.defineDomain({
        uuid,
        title: `contract "${uuid.slice(0, 4)}" <&> ]]> 😀`,
        vcpus: 1,
        memoryMb: 96,
        accel: 'tcg',
        diskPath,
        isoPath: opts.iso === false ? null : (ISO ?? '/nonexistent/test-driver-does-not-open-it.iso'),
        bootOrder: ['cdrom', 'hd'],
      });
      return uuid;
    };
    const seen = (uuid: string, type: DomainEventType): boolean => events.some((e) => e.uuid === uuid && e.type === type);

    before(async () => {
      await traversable(dir);
      driver = createLibvirtDriver({ uri, callTimeoutMs: 20_000, pollIntervalMs: 500, logger: process.env.HV_DEBUG ? { debug: console.log, info: console.log, warn: console.log, error: console.log } : undefined });
      await driver.connect();
      unsub = driver.subscribe((e) => { if (process.env.HV_DEBUG) console.log('EV', e.type, e.detail, e.uuid); events.push(e); });
    });

    after(async () => {
      unsub();
      // Always clean up, even after failures: destroy, undefine (with snapshots), delete disks.
      if (driver.status() === 'disconnected') await driver.connect().catch(() => undefined);
      for (const uuid of created) {
        await driver.destroy(uuid).catch(() => undefined);
        await driver.undefineDomain(uuid).catch(() => undefined);
      }
      await driver.close();
      await rm(dir, { recursive: true, force: true });
    });

    test('connects and pings', async () => {
      assert.equal(driver.status(), 'connected');
      assert.equal(await driver.ping(), true);
      const cap = await driver.capacity();
      assert.ok(cap.cpus >= 1 && cap.memoryMb > 0);
    });

    test('define → start → VNC → pause/resume → media → snapshots → shutdown → destroy → undefine, with events', async () => {
      const uuid = await newDomain();
      assert.equal(await driver.getState(uuid), 'shutoff');
      const all = await driver.listDomains();
      assert.ok(all.some((d) => d.uuid === uuid && d.name === `limen-${uuid}`));
      await expectKind(driver.defineDomain({ uuid, vcpus: 1, memoryMb: 64, accel: 'tcg' }), 'invalid_state');

      await driver.start(uuid);
      assert.equal(await driver.getState(uuid), 'running');
      await waitFor('started event', () => seen(uuid, 'started'));
      await expectKind(driver.start(uuid), 'invalid_state');

      const vnc = await driver.getVncEndpoint(uuid);
      if (isReal) {
        assert.ok(vnc);
        assert.equal(vnc.host, '127.0.0.1');
        assert.match(await readRfbGreeting(vnc.host, vnc.port), /^RFB 003\.008/);
      } else assert.equal(vnc, null);

      await driver.suspend(uuid);
      assert.equal(await driver.getState(uuid), 'paused');
      await waitFor('suspended event', () => seen(uuid, 'suspended'));
      await driver.resume(uuid);
      assert.equal(await driver.getState(uuid), 'running');
      await waitFor('resumed event', () => seen(uuid, 'resumed'));

      // Media: eject and re-insert live.
      assert.equal(await driver.getMedia(uuid), ISO ?? '/nonexistent/test-driver-does-not-open-it.iso');
      assert.equal(await driver.changeMedia(uuid, null), 'live');
      assert.equal(await driver.getMedia(uuid), null);
      if (ISO) {
        assert.equal(await driver.changeMedia(uuid, ISO), 'live');
        assert.equal(await driver.getMedia(uuid), ISO);
      }
      assert.equal(await driver.setBootOrder(uuid, ['hd', 'cdrom']), 'next_boot');
      assert.deepEqual((await import('../../src/hypervisor/index.js')).parseDomainXml(await driver.getDomainXml(uuid, { inactive: true })).bootOrder, ['hd', 'cdrom']);

      // Snapshots while running (memory included), then revert.
      const s1 = await driver.createSnapshot(uuid, { name: 'running-1', description: 'a <b> & "c"' });
      assert.equal(s1.name, 'running-1');
      assert.equal(s1.description, 'a <b> & "c"');
      assert.equal(s1.state, 'running');
      await expectKind(driver.createSnapshot(uuid, { name: 'running-1' }), 'invalid_state');
      assert.deepEqual((await driver.listSnapshots(uuid)).map((s) => s.name), ['running-1']);
      await driver.revertSnapshot(uuid, 'running-1');
      assert.equal(await driver.getState(uuid), 'running');
      await expectKind(driver.revertSnapshot(uuid, 'nope'), 'not_found');

      const stats = await driver.domainStats(uuid);
      assert.equal(stats.state, 'running');
      assert.ok(stats.cpuTimeNs > 0);
      assert.equal(await driver.guestInfo(uuid), null); // GRUB runs no guest agent

      // ACPI shutdown: GRUB ignores it; the call works and the wait times out cleanly.
      const t0 = Date.now();
      const r = await driver.shutdown(uuid, { waitMs: 600 });
      assert.ok(r === 'timeout' || r === 'stopped');
      assert.ok(Date.now() - t0 < 5000);
      await driver.destroy(uuid).catch((e: unknown) => {
        if (!isHypervisorError(e, 'invalid_state')) throw e;
      });
      assert.equal(await driver.getState(uuid), 'shutoff');
      await waitFor('stopped event', () => seen(uuid, 'stopped'));
      await expectKind(driver.suspend(uuid), 'invalid_state');

      // Snapshot of a shut-off domain, revert, delete.
      const s2 = await driver.createSnapshot(uuid, { name: 'off-1' });
      assert.equal(s2.state, 'shutoff');
      await driver.revertSnapshot(uuid, 'off-1');
      assert.equal(await driver.getState(uuid), 'shutoff');
      assert.equal(await driver.changeMedia(uuid, null), 'config');
      await driver.deleteSnapshot(uuid, 'off-1');
      assert.deepEqual((await driver.listSnapshots(uuid)).map((s) => s.name), ['running-1']);

      // undefine removes snapshot metadata too
      await driver.undefineDomain(uuid);
      await expectKind(driver.getState(uuid), 'not_found');
      await waitFor('undefined event', () => seen(uuid, 'undefined'));
    });

    test('two domains get different MACs from libvirt', async () => {
      const a = await newDomain({ disk: false, iso: false });
      const b = await newDomain({ disk: false, iso: false });
      const { parseDomainXml } = await import('../../src/hypervisor/index.js');
      const macA = parseDomainXml(await driver.getDomainXml(a)).interfaces[0]?.mac;
      const macB = parseDomainXml(await driver.getDomainXml(b)).interfaces[0]?.mac;
      assert.match(macA ?? '', /^52:54:00:/);
      assert.notEqual(macA, macB);
      // a domain without a disk cannot be snapshotted
      await assert.rejects(driver.createSnapshot(a, { name: 's' }), (e: unknown) => isHypervisorError(e));
      await driver.undefineDomain(a);
      await driver.undefineDomain(b);
    });

    test('errors are typed', async () => {
      await expectKind(driver.start(randomUUID()), 'not_found');
      await expectKind(driver.start('not-a-uuid'), 'not_found');
      await expectKind(driver.getVncEndpoint(randomUUID()), 'not_found');
      const uuid = await newDomain({ disk: false, iso: false });
      await expectKind(driver.suspend(uuid), 'invalid_state');
      await expectKind(driver.resume(uuid), 'invalid_state');
      await expectKind(driver.getVncEndpoint(uuid), 'invalid_state');
      await expectKind(driver.createSnapshot(uuid, { name: '../bad name' }), 'operation_failed');
      await driver.undefineDomain(uuid);
    });

    test('close() disconnects; ping is false; connect() reconnects', async () => {
      const statuses: string[] = [];
      const off = driver.onConnectionChange((s) => statuses.push(s));
      await driver.close();
      assert.equal(driver.status(), 'disconnected');
      assert.equal(await driver.ping(), false);
      await expectKind(driver.listDomains(), 'disconnected');
      await driver.connect();
      assert.equal(driver.status(), 'connected');
      assert.equal(await driver.ping(), true);
      assert.deepEqual(statuses, ['disconnected', 'connected']);
      off();
      // events keep flowing after a reconnect
      const uuid = await newDomain({ disk: false, iso: false });
      await waitFor('defined event after reconnect', () => seen(uuid, 'defined'));
      await driver.undefineDomain(uuid);
    });
  });
}

driverContract('test:///default');
if (REAL_URI) driverContract(REAL_URI);
else test('real libvirt contract', { skip: 'LIMEN_TEST_LIBVIRT_URI not set (run through scripts/test.sh)' }, () => undefined);
