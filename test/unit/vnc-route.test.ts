// How the console reaches VNC for each kind of host URI, and that no part of an (admin-defined)
// URI or of the live XML can become an ssh option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vncRoute, VncRouteError, REMOTE_CONSOLE_NOT_CONFIGURED } from '../../src/modules/consoles/vnc-route.js';

const ep = (hostUri?: string, host = '127.0.0.1', port = 5901) => ({ host, port, hostUri });

test('local hosts connect directly', () => {
  for (const uri of [undefined, 'qemu:///system', 'qemu:///session', 'test:///default', 'qemu+unix:///system?socket=/run/x/libvirt-sock', 'qemu+tcp://localhost/system']) {
    assert.deepEqual(vncRoute(ep(uri)), { kind: 'direct', host: '127.0.0.1', port: 5901 }, String(uri));
  }
});

test('qemu+ssh hosts go through ssh -W with the URI user, port, keyfile and no_verify', () => {
  const r = vncRoute(ep('qemu+ssh://root@hv1.lab.example:2222/system?socket=/run/libvirt/libvirt-sock&keyfile=/etc/limen/id_ed25519&no_verify=1'));
  assert.equal(r.kind, 'ssh');
  if (r.kind !== 'ssh') return;
  assert.equal(r.destination, 'root@hv1.lab.example:2222');
  const a = r.argv;
  assert.deepEqual(a.slice(-4), ['-W', '127.0.0.1:5901', '--', 'hv1.lab.example'], 'the destination comes last, after --');
  const opt = (flag: string) => a[a.indexOf(flag) + 1];
  assert.equal(opt('-p'), '2222');
  assert.equal(opt('-l'), 'root');
  assert.equal(opt('-i'), '/etc/limen/id_ed25519');
  assert.ok(a.includes('BatchMode=yes'));
  assert.ok(a.includes('ExitOnForwardFailure=yes'));
  assert.ok(a.includes('StrictHostKeyChecking=no'));
});

test('without no_verify the host key is checked (ssh defaults); without user/port/keyfile none is passed', () => {
  const r = vncRoute(ep('qemu+ssh://hv1/system'));
  assert.equal(r.kind, 'ssh');
  if (r.kind !== 'ssh') return;
  assert.ok(!r.argv.includes('StrictHostKeyChecking=no'));
  for (const flag of ['-p', '-l', '-i']) assert.ok(!r.argv.includes(flag), flag);
  assert.deepEqual(r.argv.slice(-4), ['-W', '127.0.0.1:5901', '--', 'hv1']);
});

test('IPv6 hosts and VNC addresses', () => {
  const r = vncRoute(ep('qemu+ssh://admin@[fd00::5]/system', '::1', 5900));
  assert.equal(r.kind, 'ssh');
  if (r.kind === 'ssh') assert.deepEqual(r.argv.slice(-4), ['-W', '[::1]:5900', '--', 'fd00::5']);
});

test('nothing in the URI or the endpoint can smuggle an option or a second argument', () => {
  const bad = [
    ep('qemu+ssh://-oProxyCommand=touch%20x/system'),
    ep('qemu+ssh://%2DoProxyCommand@hv1/system'),
    ep('qemu+ssh://root@hv1/system?keyfile=-oProxyCommand=x'),
    ep('qemu+ssh://root@hv1/system?keyfile=relative/key'),
    ep('qemu+ssh://root@hv1/system?keyfile=/etc/../root/key'),
    ep('qemu+ssh://root@hv1/system?keyfile=/a%20b'),
    ep('qemu+ssh://ro%20ot@hv1/system'),
    ep('qemu+ssh://root@hv1/system', '-oProxyCommand=x'),
    ep('qemu+ssh://root@hv1/system', '127.0.0.1 -v'),
    ep('qemu+ssh://root@hv1/system', '127.0.0.1', 0),
    ep('qemu+ssh://root@hv1/system', '127.0.0.1', 70000),
  ];
  for (const e of bad) assert.throws(() => vncRoute(e), VncRouteError, JSON.stringify(e));
});

test('a TLS (or plain TCP) remote host: a loopback VNC address is refused with what to configure; a management-network one is direct', () => {
  assert.deepEqual(vncRoute(ep('qemu+tls://hv2.lab.example/system')), { kind: 'refused', message: REMOTE_CONSOLE_NOT_CONFIGURED });
  assert.deepEqual(vncRoute(ep('qemu+tcp://10.0.0.7/system')), { kind: 'refused', message: REMOTE_CONSOLE_NOT_CONFIGURED });
  assert.deepEqual(vncRoute(ep('qemu+tls://hv2.lab.example/system', '10.20.0.12', 5903)), { kind: 'direct', host: '10.20.0.12', port: 5903 });
});
