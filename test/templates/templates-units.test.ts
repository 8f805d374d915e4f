// Pure parts of templates and cloud-init: SSH key validation, seed content, host names, user-data
// checks, qemu-img info and virsh domifaddr parsing, visibility rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSshPublicKey } from '../../src/modules/sshkeys/index.js';
import { buildSeedFiles, checkUserData, hostnameFor } from '../../src/modules/vms/index.js';
import { parseImageInfo } from '../../src/hypervisor/index.js';
import { parseDomifaddr } from '../../src/hypervisor/libvirt/qemu-ops.js';
import { usableAddresses } from '../../src/hypervisor/libvirt/ops.js';
import { canSee, visibilityProblem } from '../../src/modules/templates/template-rules.js';
import { AppError } from '../../src/platform/http/app-error.js';
import { newSshPublicKey } from './template-fixtures.js';

const isValidation = (e: unknown) => e instanceof AppError && e.code === 'VALIDATION_FAILED';

test('SSH public keys: real keys parse with their SHA256 fingerprint; malformed ones are refused', () => {
  const k = newSshPublicKey('me@host');
  const p = parseSshPublicKey(`  ${k}  `);
  assert.equal(p.type, 'ssh-ed25519');
  assert.equal(p.comment, 'me@host');
  assert.equal(p.key, k.split(' ').slice(0, 2).join(' '));
  assert.match(p.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  const blob = k.split(' ')[1]!;
  for (const bad of [
    '',
    blob,
    `ssh-rsa ${blob}`, // the blob says ed25519
    `ssh-ed25519 ${blob.slice(0, 20)}`, // truncated
    `ssh-ed25519 ${blob}$$`,
    `ssh-ed25519 ${blob} evil\ncomment`,
    `ssh-ed25519 ${blob} bell\u0007`,
    `ssh-dss ${blob}`,
    `ssh-ed25519 ${'A'.repeat(20000)}`,
  ]) {
    assert.throws(() => parseSshPublicKey(bad), isValidation, JSON.stringify(bad.slice(0, 40)));
  }
});

test('host names from VM names are RFC 1123 labels', () => {
  assert.equal(hostnameFor('Web Server #1', 'abcdef12-0000'), 'web-server-1');
  assert.equal(hostnameFor('Ünïcödé', 'abcdef12-0000'), 'unicode');
  assert.equal(hostnameFor('🙂🙂', 'abcdef12-0000'), 'vm-abcdef12');
  assert.equal(hostnameFor('-a--b-', 'x'), 'a-b');
  assert.equal(hostnameFor('x'.repeat(100), 'x').length, 63);
});

test('user-data: only a #cloud-config YAML mapping within 16 KiB', () => {
  assert.equal(checkUserData('#cloud-config\npackages: [htop]\n'), '#cloud-config\npackages: [htop]\n');
  assert.equal(checkUserData('#cloud-config'), '#cloud-config');
  for (const bad of ['#!/bin/sh\necho hi', 'packages: [a]', '#cloud-config\n- a\n- b\n', '#cloud-config\na: [\n', '#cloud-config\nssh_authorized_keys: nope\n', `#cloud-config\nx: "${'a'.repeat(17000)}"\n`, '#cloud-config\na: 1\na: 2\n']) {
    assert.throws(() => checkUserData(bad), isValidation, bad.slice(0, 30));
  }
});

test('seed files: meta-data names instance and host; user-data merges keys, LIMEN’s hostname wins; JSON after #cloud-config', () => {
  const f = buildSeedFiles('u-1', { hostname: 'web-1', ssh_authorized_keys: ['ssh-ed25519 AAAA1'], user_data: '#cloud-config\nhostname: other\nssh_authorized_keys: [ssh-ed25519 AAAA2, ssh-ed25519 AAAA1]\nruncmd: ["echo \'<&>\'"]\n' });
  assert.deepEqual(JSON.parse(f['meta-data']), { 'instance-id': 'u-1', 'local-hostname': 'web-1' });
  assert.ok(f['user-data'].startsWith('#cloud-config\n'));
  const doc = JSON.parse(f['user-data'].slice(14)) as Record<string, unknown>;
  assert.equal(doc.hostname, 'web-1');
  assert.deepEqual(doc.ssh_authorized_keys, ['ssh-ed25519 AAAA1', 'ssh-ed25519 AAAA2']);
  assert.deepEqual(doc.runcmd, ["echo '<&>'"]);
  assert.deepEqual(buildSeedFiles('u-1', { hostname: 'h', ssh_authorized_keys: [], user_data: null }), buildSeedFiles('u-1', { hostname: 'h', ssh_authorized_keys: [], user_data: null }), 'deterministic');
});

test('qemu-img info: backing file and data file are read from the JSON', () => {
  const overlay = parseImageInfo(JSON.stringify({ 'virtual-size': 1073741824, 'actual-size': 200704, format: 'qcow2', 'backing-filename': '/d/t/x.qcow2', 'full-backing-filename': '/d/t/x.qcow2', 'backing-filename-format': 'qcow2' }));
  assert.deepEqual(overlay, { virtualSizeBytes: 1073741824, actualSizeBytes: 200704, format: 'qcow2', backingFile: '/d/t/x.qcow2', backingFormat: 'qcow2', dataFile: null });
  const ext = parseImageInfo(JSON.stringify({ format: 'qcow2', 'virtual-size': 1, 'format-specific': { type: 'qcow2', data: { 'data-file': '/etc/shadow' } } }));
  assert.equal(ext.dataFile, '/etc/shadow');
});

test('domifaddr: lease and agent tables give usable addresses (no loopback, no link-local)', () => {
  const lease = ` Name       MAC address          Protocol     Address
-------------------------------------------------------------------------------
 vnet3      52:54:00:6b:1c:aa    ipv4         192.168.122.45/24
 vnet3      52:54:00:6b:1c:aa    ipv6         fd00::5/64
`;
  assert.deepEqual(usableAddresses(parseDomifaddr(lease)), ['192.168.122.45', 'fd00::5']);
  const agent = ` lo         00:00:00:00:00:00    ipv4         127.0.0.1/8
 lo         00:00:00:00:00:00    ipv6         ::1/128
 eth0       52:54:00:12:34:56    ipv4         10.0.2.15/24
 eth0       52:54:00:12:34:56    ipv6         fe80::5054:ff:fe12:3456/64
`;
  assert.deepEqual(usableAddresses(parseDomifaddr(agent)), ['10.0.2.15']);
  assert.deepEqual(usableAddresses(parseDomifaddr('')), []);
});

test('template visibility: private to its owner, everyone, group members; only admins publish to everyone', () => {
  const alice = { id: 'a', role: 'user' as const, username: 'alice', status: 'active' as const, sessionFamily: 'f' };
  const admin = { id: 'z', role: 'admin' as const, username: 'root', status: 'active' as const, sessionFamily: 'f' };
  const priv = { ownerId: 'b', visibility: 'private' as const, groupId: null };
  const grp = { ownerId: 'b', visibility: 'group' as const, groupId: 'g1' };
  assert.equal(canSee(alice, priv, []), false);
  assert.equal(canSee(admin, priv, []), true);
  assert.equal(canSee(alice, { ...priv, ownerId: 'a' }, []), true);
  assert.equal(canSee(alice, { ...priv, visibility: 'everyone' }, []), true);
  assert.equal(canSee(alice, grp, ['g2']), false);
  assert.equal(canSee(alice, grp, ['g1']), true);
  assert.ok(visibilityProblem(alice, 'everyone', null, []));
  assert.equal(visibilityProblem(admin, 'everyone', null, []), null);
  assert.ok(visibilityProblem(alice, 'group', 'g1', ['g2']));
  assert.equal(visibilityProblem(alice, 'group', 'g1', ['g1']), null);
  assert.ok(visibilityProblem(admin, 'group', null, []));
  assert.ok(visibilityProblem(admin, 'private', 'g1', []));
});
