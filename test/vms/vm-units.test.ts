// Pure helpers of the VM module: name and size validation, boot order, stats arithmetic, the
// event hub's routing, ISO names.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { checkBootOrder, checkSize, normalizeVmName, VM_NAME_MAX } from '../../src/modules/vms/vm-input.js';
import { computeRates } from '../../src/modules/vms/vm-stats.js';
import { createEventHub } from '../../src/modules/events/index.js';
import { ISO_NAME_RE } from '../../src/modules/isos/index.js';
import { AppError } from '../../src/platform/http/app-error.js';
import type { Principal } from '../../src/platform/http/principal.js';

const bounds = { vcpus: { min: 1, max: 32 }, memoryMb: { min: 64, max: 262144 }, diskGb: { min: 1, max: 4096 } };
const refused = (fn: () => unknown, field: string) => assert.throws(fn, (e: unknown) => e instanceof AppError && e.code === 'VALIDATION_FAILED' && e.details?.field === field);

describe('vm-input', () => {
  test('names: any printable Unicode, trimmed and NFC-normalised, bounded', () => {
    assert.equal(normalizeVmName('  web  '), 'web');
    assert.equal(normalizeVmName('e\u0301'), 'é');
    for (const n of [`"q" 'q'`, '<b>&amp;', ']]>', '🦄'.repeat(VM_NAME_MAX), 'Ωmega 東京']) assert.equal(normalizeVmName(n), n);
    for (const n of ['', '  ', 'x'.repeat(VM_NAME_MAX + 1), '🦄'.repeat(VM_NAME_MAX + 1), 'a\nb', 'tab\there', 'nul\0', 'bell\u0007', 'lone\ud800', 'l\u2028s']) refused(() => normalizeVmName(n), 'name');
  });
  test('sizes: integers within bounds', () => {
    assert.equal(checkSize('vcpus', 1, bounds), 1);
    assert.equal(checkSize('memory_mb', 64, bounds), 64);
    for (const [f, v] of [['vcpus', 0], ['vcpus', -1], ['vcpus', 33], ['memory_mb', 63], ['memory_mb', 1.5], ['disk_gb', 4097], ['disk_gb', Number.NaN], ['disk_gb', Infinity], ['disk_gb', 2 ** 60]] as const) refused(() => checkSize(f, v, bounds), f);
  });
  test('boot order: 1-3 distinct known devices', () => {
    assert.deepEqual(checkBootOrder(['hd']), ['hd']);
    assert.deepEqual(checkBootOrder(['network', 'cdrom', 'hd']), ['network', 'cdrom', 'hd']);
    for (const o of [[], ['hd', 'hd'], ['fd'], ['hd', 'cdrom', 'network', 'hd']]) refused(() => checkBootOrder(o), 'boot_order');
  });
  test('ISO names: no paths, no hidden files, .iso only', () => {
    for (const n of ['grub.iso', 'debian-12.5_amd64.iso', 'a..b.iso']) assert.ok(ISO_NAME_RE.test(n), n);
    for (const n of ['../x.iso', 'a/b.iso', '.x.iso', '..iso', 'x.img', 'x.iso\n', 'x .iso', `${'a'.repeat(129)}.iso`]) assert.ok(!ISO_NAME_RE.test(n), n);
  });
});

describe('vm-stats: rates from two samples', () => {
  const at = (ms: number) => new Date(1_700_000_000_000 + ms);
  const base = { state: 'running' as const, vcpus: 2, memoryKiB: 131072, maxMemoryKiB: 262144, blockReadBytes: 0, blockWriteBytes: 0, netRxBytes: 0, netTxBytes: 0 };
  test('CPU % of the VM’s vCPUs, byte rates per second', () => {
    const r = computeRates({ ...base, cpuTimeNs: 0, at: at(0) }, { ...base, cpuTimeNs: 1e9, blockReadBytes: 4096, blockWriteBytes: 2048, netRxBytes: 1000, netTxBytes: 500, at: at(2000) });
    assert.equal(r.cpu_percent, 25);
    assert.deepEqual(r.disk, { read_bytes_per_s: 2048, write_bytes_per_s: 1024 });
    assert.deepEqual(r.net, { rx_bytes_per_s: 500, tx_bytes_per_s: 250 });
    assert.deepEqual(r.memory, { used_mb: 128, total_mb: 256 });
    assert.equal(r.interval_s, 2);
  });
  test('counter resets and zero intervals never give negative or infinite rates', () => {
    const r = computeRates({ ...base, cpuTimeNs: 5e9, blockReadBytes: 9999, at: at(0) }, { ...base, cpuTimeNs: 1e9, at: at(1000) });
    assert.equal(r.cpu_percent, 0);
    assert.equal(r.disk.read_bytes_per_s, 0);
    const z = computeRates({ ...base, cpuTimeNs: 0, at: at(0) }, { ...base, cpuTimeNs: 1e9, at: at(0) });
    assert.equal(z.cpu_percent, 0);
  });
});

class FakeSocket extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  terminated = false;
  send(data: string, cb?: (err?: Error) => void): void {
    this.sent.push(data);
    cb?.();
  }
  ping(): void {}
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }
  close(): void {
    this.readyState = 3;
  }
}

describe('event hub', () => {
  const p = (id: string, role: 'user' | 'admin' = 'user'): Principal => ({ id, username: id, role, status: 'active', sessionFamily: 'f' });
  const log = { warn: () => undefined, debug: () => undefined };
  const flush = () => new Promise((r) => setImmediate(r));

  test('per-user fan-out; admins see all; slow consumers are dropped without blocking others', async () => {
    const hub = createEventHub({ log, maxBufferedBytes: 1000 });
    const a = new FakeSocket();
    const b = new FakeSocket();
    const adm = new FakeSocket();
    hub.setSnapshotProvider(async (pr) => (pr.role === 'admin' ? [{ uuid: 'v1', owner_id: 'a' }] : []));
    hub.attach(a as unknown as WebSocket, p('a'));
    hub.attach(b as unknown as WebSocket, p('b'));
    hub.attach(adm as unknown as WebSocket, p('x', 'admin'));
    await flush();
    assert.equal(JSON.parse(a.sent[0]!).type, 'snapshot');
    hub.publish('vm.state', { uuid: 'v1', owner_id: 'a' });
    assert.ok(a.sent.some((m) => m.includes('vm.state')));
    assert.ok(adm.sent.some((m) => m.includes('vm.state')));
    assert.ok(!b.sent.some((m) => m.includes('v1')));
    b.bufferedAmount = 5000;
    hub.publish('vm.created', { uuid: 'v2', owner_id: 'b' });
    assert.ok(b.terminated, 'slow consumer dropped');
    assert.equal(hub.clientCount(), 2);
    hub.publish('vm.created', { uuid: 'v3', owner_id: 'a' });
    assert.ok(a.sent.some((m) => m.includes('v3')));
    hub.close();
  });

  test('stats only to authorised watchers', async () => {
    const hub = createEventHub({ log });
    hub.setWatchAuthorizer(async (pr, uuid) => pr.id === 'a' && uuid === 'v1');
    const a = new FakeSocket();
    const b = new FakeSocket();
    hub.attach(a as unknown as WebSocket, p('a'));
    hub.attach(b as unknown as WebSocket, p('b'));
    a.emit('message', Buffer.from(JSON.stringify({ type: 'watch', uuid: 'v1' })));
    b.emit('message', Buffer.from(JSON.stringify({ type: 'watch', uuid: 'v1' })));
    b.emit('message', Buffer.from('not json'));
    await flush();
    assert.deepEqual([...hub.watchedVms()], ['v1']);
    hub.publishStats({ uuid: 'v1', owner_id: 'a' }, { cpu_percent: 1 });
    assert.ok(a.sent.some((m) => m.includes('vm.stats')));
    assert.ok(!b.sent.some((m) => m.includes('vm.stats')));
    hub.close();
  });
});
