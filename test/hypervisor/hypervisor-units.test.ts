// Pure tests: timeout/cancel helper, error classification, event-line and virsh output parsing.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyLibvirtMessage, HypervisorError, isHypervisorError, withTimeout, type DomainState } from '../../src/hypervisor/index.js';
import { createSlots, startConfirmed } from '../../src/hypervisor/libvirt/start-outcome.js';
import { parseEventLine } from '../../src/hypervisor/libvirt/events.js';
import { parseDomifaddr, parseDomstats, parseSnapshotXml } from '../../src/hypervisor/libvirt/qemu-ops.js';
import { createVirsh } from '../../src/hypervisor/libvirt/virsh.js';
import { summarizeDomains } from '../../src/hypervisor/libvirt/domain-list.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('withTimeout', () => {
  test('returns the result and clears its timer', async () => {
    const t0 = Date.now();
    assert.equal(await withTimeout('x', 10_000, async () => 42), 42);
    assert.ok(Date.now() - t0 < 1000); // a leaked 10 s timer would also keep the test process alive
  });

  test('rejects with kind timeout and aborts the signal of cancellable work', async () => {
    let aborted = false;
    const t0 = Date.now();
    await assert.rejects(
      withTimeout('slow', 100, (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => { aborted = true; reject(new Error('aborted')); }))),
      (e: unknown) => isHypervisorError(e, 'timeout') && /no answer within 100 ms/.test(e.message),
    );
    assert.ok(aborted);
    assert.ok(Date.now() - t0 < 1000);
  });

  test('non-cancellable work: caller is released at the deadline; late result is swallowed', async () => {
    await assert.rejects(
      withTimeout('stuck', 50, () => new Promise((resolve) => setTimeout(resolve, 200))),
      (e: unknown) => isHypervisorError(e, 'timeout'),
    );
    await assert.rejects(
      withTimeout('stuck-reject', 50, () => new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 100))),
      (e: unknown) => isHypervisorError(e, 'timeout'),
    );
    await new Promise((r) => setTimeout(r, 150)); // no unhandled rejection surfaces
  });

  test('parent signal cancels', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(withTimeout('p', 10_000, () => new Promise(() => undefined), ac.signal), (e: unknown) => isHypervisorError(e, 'timeout'));
  });

  test('a child process is killed at the timeout (virsh runner)', async () => {
    // A stand-in "virsh" that hangs, ignoring its arguments, and records its PID.
    const dir = await mkdtemp(join(tmpdir(), 'limen-virsh-'));
    const fake = join(dir, 'virsh');
    await writeFile(fake, `#!/bin/sh\necho $$ > ${dir}/pid\nexec sleep 30\n`, { mode: 0o755 });
    const runner = createVirsh('test:///default', 200, fake);
    const t0 = Date.now();
    await assert.rejects(runner.run(['list']), (e: unknown) => isHypervisorError(e, 'timeout'));
    assert.ok(Date.now() - t0 < 2000);
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    assert.throws(() => process.kill(pid, 0), /ESRCH/); // the child is gone, not abandoned
    await rm(dir, { recursive: true, force: true });
  });
});

describe('classifyLibvirtMessage', () => {
  const cases: [string, string][] = [
    ['Domain not found', 'not_found'],
    ["Domain not found: no domain with matching uuid '…'", 'not_found'],
    ['Invalid UUID', 'not_found'],
    ["Domain snapshot not found: no domain snapshot with matching name 'x'", 'not_found'],
    ['Requested operation is not valid: domain is not running', 'invalid_state'],
    ["internal error: Domain 'x' is already running", 'invalid_state'],
    ["internal error: domain 'x' not running", 'invalid_state'],
    ['Requested operation is not valid: cannot delete inactive domain with 2 snapshots', 'invalid_state'],
    ['invalid connection pointer in virNodeGetInfo', 'disconnected'],
    ["Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory", 'disconnected'],
    ['Cannot recv data: Connection reset by peer', 'disconnected'],
    ['Guest agent is not responding: QEMU guest agent is not connected', 'operation_failed'],
    ['Timed out during operation: cannot acquire state change lock', 'timeout'],
    ['internal error: qemu unexpectedly closed the monitor', 'operation_failed'],
  ];
  for (const [msg, kind] of cases) test(`${kind}: ${msg}`, () => assert.equal(classifyLibvirtMessage(msg), kind));
});

describe('virsh output parsers', () => {
  test('event lines', () => {
    const e = parseEventLine("2026-11-26 07:12:41.270+0000: event 'lifecycle' for domain 'limen-11111111-2222-3333-4444-555555555555': Started Booted");
    assert.deepEqual(e && { ...e, at: e.at.toISOString() }, {
      name: 'limen-11111111-2222-3333-4444-555555555555',
      type: 'started',
      detail: 'Booted',
      at: '2026-11-26T07:12:41.270Z',
    });
    assert.equal(parseEventLine("2026-11-26 07:12:53.832+0000: event 'lifecycle' for domain 'x': Shutdown Finished after host request")?.detail, 'Finished after host request');
    assert.equal(parseEventLine("2026-11-26 07:12:57.062+0000: event 'lifecycle' for domain 'x': Undefined Removed")?.type, 'undefined');
    assert.equal(parseEventLine("2026-11-26 07:12:49.901+0000: event 'reboot' for domain 'x'"), null);
    assert.equal(parseEventLine("2026-11-26 07:12:49.184+0000: event 'tray-change' for domain 'x' disk sata0-0-0: opened"), null);
    assert.equal(parseEventLine('garbage'), null);
  });

  test('domstats', () => {
    const s = parseDomstats(
      "Domain: 'x'\n  state.state=1\n  cpu.time=1148248000\n  balloon.current=98304\n  balloon.maximum=98304\n  vcpu.current=1\n  block.count=2\n  block.0.rd.bytes=10\n  block.0.wr.bytes=5\n  block.1.rd.bytes=4096\n  net.count=1\n  net.0.rx.bytes=7\n  net.0.tx.bytes=3\n",
    );
    assert.deepEqual(s, { state: 'running', cpuTimeNs: 1148248000, vcpus: 1, memoryKiB: 98304, maxMemoryKiB: 98304, blockReadBytes: 4106, blockWriteBytes: 5, netRxBytes: 7, netTxBytes: 3 });
  });

  test('domifaddr --full', () => {
    const g = parseDomifaddr(
      ' Name       MAC address          Protocol     Address\n-------------------------------------------------------------------------------\n lo         00:00:00:00:00:00    ipv4         127.0.0.1/8\n eth0       52:54:00:01:02:03    ipv4         10.0.2.15/24\n eth0       52:54:00:01:02:03    ipv6         fe80::1/64\n',
    );
    assert.deepEqual(g, { interfaces: [{ name: 'eth0', mac: '52:54:00:01:02:03', addresses: ['10.0.2.15', 'fe80::1'] }] });
  });

  test('snapshot-dumpxml', () => {
    const s = parseSnapshotXml('<domainsnapshot><name>s1</name><description>hi &lt;x&gt;</description><state>running</state><creationTime>1795677165</creationTime><domain type="qemu"><name>n</name></domain></domainsnapshot>');
    assert.deepEqual(s, { name: 's1', description: 'hi <x>', state: 'running', createdAt: new Date(1795677165000) });
  });
});

describe('summarizeDomains (the domain list behind the poll and the reconciler)', () => {
  const domain = (uuid: string, info: () => Promise<{ state: number }>) => ({
    getName: async () => `limen-${uuid}`,
    getUUIDString: async () => uuid.toUpperCase(),
    getInfo: info as never,
  });
  const running = async () => ({ state: 1 });

  test('summarizes every listed domain; one undefined meanwhile (not found) is skipped', async () => {
    const gone = domain('b', async () => { throw new Error('Domain not found: no domain with matching uuid'); });
    const out = await summarizeDomains([domain('a', running), gone, domain('c', async () => ({ state: 5 }))]);
    assert.deepEqual(out, [
      { uuid: 'a', name: 'limen-a', state: 'running' },
      { uuid: 'c', name: 'limen-c', state: 'shutoff' },
    ]);
  });

  test('a lookup failing because libvirtd went away fails the whole list instead of dropping the VM', async () => {
    const cut = domain('b', async () => { throw new Error('Cannot recv data: Connection reset by peer'); });
    await assert.rejects(summarizeDomains([domain('a', running), cut]), (e: unknown) => isHypervisorError(e, 'disconnected'));
    const broken = domain('b', async () => { throw new Error('internal error: unexpected reply'); });
    await assert.rejects(summarizeDomains([broken]), (e: unknown) => isHypervisorError(e, 'operation_failed'));
  });
});

describe('startConfirmed (a start that timed out is decided by the domain state)', () => {
  const timedOut = async () => { throw new HypervisorError('timeout', 'start x: no answer within 15000 ms'); };
  const states = (...seq: (DomainState | null)[]) => {
    let i = 0;
    return async () => seq[Math.min(i++, seq.length - 1)] ?? null;
  };

  test('a timed-out start whose guest comes up (shut off, starting, running) succeeds', async () => {
    await startConfirmed(timedOut, { state: states('shutoff', 'paused', null, 'running'), waitMs: 5_000, stepMs: 5 });
  });

  test('a timed-out start whose guest never runs still fails with the timeout, after the wait', async () => {
    const t0 = Date.now();
    await assert.rejects(startConfirmed(timedOut, { state: states('shutoff'), waitMs: 200, stepMs: 20 }), (e: unknown) => isHypervisorError(e, 'timeout'));
    assert.ok(Date.now() - t0 >= 190, 'gave up before the wait was over');
  });

  test('any other start error is returned at once, without watching', async () => {
    let polls = 0;
    const failing = async () => { throw new HypervisorError('operation_failed', 'internal error: qemu unexpectedly closed the monitor'); };
    await assert.rejects(startConfirmed(failing, { state: async () => { polls++; return 'running'; }, waitMs: 5_000 }), (e: unknown) => isHypervisorError(e, 'operation_failed'));
    assert.equal(polls, 0);
  });

  test('a start that answers in time is not watched', async () => {
    let polls = 0;
    await startConfirmed(async () => undefined, { state: async () => { polls++; return 'shutoff'; }, waitMs: 5_000 });
    assert.equal(polls, 0);
  });
});

describe('createSlots (starts per host connection stay under libvirtd max_client_requests)', () => {
  test('never more than n jobs at once; all run, in arrival order; a failing job frees its slot', async () => {
    const slot = createSlots(3);
    let now = 0;
    let peak = 0;
    const began: number[] = [];
    const job = (i: number) => slot(async () => {
      began.push(i);
      peak = Math.max(peak, ++now);
      await new Promise((r) => setTimeout(r, 5));
      now--;
      if (i === 4) throw new Error('start 4 failed');
      return i;
    });
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => job(i)));
    assert.equal(peak, 3);
    assert.deepEqual(began, [...Array(12).keys()]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 11);
    assert.equal(await slot(async () => 'free again'), 'free again');
  });
});
