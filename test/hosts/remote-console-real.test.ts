// A console on a remote host, for real: a second libvirtd (scripts/services/libvirt-host2.sh)
// reached ONLY through OpenSSH (scripts/services/sshd.sh: 127.0.0.1, own host key, key-only
// root login) as qemu+ssh://root@127.0.0.1:<port>/system?socket=<host2 socket>&keyfile=…&no_verify=1.
// The default host is drained, so a VM created through the API lands there; its console opened
// through LIMEN's websocket gets the RFB greeting, ServerInit and a FramebufferUpdate from QEMU
// through an `ssh -W` child — sshd's own log names the VNC port as the forwarded target. Closing
// the console ends the ssh process; stopping the VM closes the console with its reason (and ends
// the ssh process too).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { privateServices, type PrivateServices } from '../helpers/services.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { rfbConnect } from '../helpers/rfb-client.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import { unlimitedQuota, waitFor, waitGone, waitState, type VmJson } from '../vms/vm-helpers.js';
import { sshChildren, sshdForwardTargets } from './ssh-helpers.js';

const URI = process.env.LIMEN_TEST_LIBVIRT_URI;
const REAL = process.env.LIMEN_TEST_REAL === '1';
const ISO = '/usr/lib/grub-rescue/grub-rescue-cdrom.iso';
const why =
  URI === undefined ? 'LIMEN_TEST_LIBVIRT_URI is not set (no real libvirt here)'
  : process.getuid?.() !== 0 ? 'the second libvirt host and the test sshd need root'
  : !existsSync('/usr/sbin/sshd') ? 'openssh-server is not installed'
  : null;
if (why && REAL) throw new Error(`remote console test cannot run: ${why}`);

describe('console of a VM on a qemu+ssh:// host', { skip: why ?? false, timeout: 900_000 }, () => {
  let svc: PrivateServices;
  let run: (script: string, ...args: string[]) => string;
  let driver: HypervisorDriver;
  let t: TestApp;
  let base: string;
  let admin: TestUser;
  let user: TestUser;
  let vm: VmJson;

  const ticket = async (uuid: string): Promise<string> => {
    const r = await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/console`, headers: user.auth });
    assert.equal(r.statusCode, 200, r.body);
    return base + r.json<{ ws_url: string }>().ws_url;
  };
  const vncPort = async (): Promise<number> => {
    const ep = await t.app.limen.hosts.registry.driverFor('remote').getVncEndpoint(vm.uuid);
    assert.ok(ep, 'the VM has a VNC endpoint');
    return ep.port;
  };

  before(async () => {
    svc = privateServices('limen-rconsole-');
    run = (script, ...args) => svc.run(script, ...args);
    run('sshd.sh', 'start');
    const h2Uri = run('libvirt-host2.sh', 'start');
    const socket = new URL(h2Uri).searchParams.get('socket')!;
    const sshUri = run('sshd.sh', 'uri', socket);
    assert.match(sshUri, /^qemu\+ssh:\/\/root@127\.0\.0\.1:\d+\/system\?socket=/);

    driver = createLibvirtDriver({ uri: URI!, pollIntervalMs: 500 });
    t = await buildTestApp({
      driver,
      engine: process.env.LIMEN_TEST_PG_URL ? 'postgres' : 'pglite',
      env: { LIMEN_VM_ACCEL: 'tcg' },
      vmOptions: { shutdownTimeoutMs: 3_000, reconcileEveryMs: 1_000 },
      hostWatchEveryMs: 1_000,
      // every virsh call is an ssh login: generous timeouts on a loaded 2-core machine
      createHostDriver: (uri) => createLibvirtDriver({ uri, pollIntervalMs: 1_000, callTimeoutMs: 60_000, connectTimeoutMs: 30_000, maxBackoffMs: 2_000 }),
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    [admin, user] = await Promise.all([newAdmin(t.app), newUser(t.app)]);
    await unlimitedQuota(t.app, admin, user.id);
    const up = await t.app.inject({ method: 'PUT', url: '/api/admin/isos/grub-rescue.iso', headers: { ...admin.auth, 'content-type': 'application/octet-stream' }, payload: createReadStream(ISO) });
    assert.equal(up.statusCode, 201, up.body);
    const isoId = up.json<{ id: string }>().id;

    const add = await t.app.inject({ method: 'POST', url: '/api/admin/hosts', headers: admin.auth, payload: { name: 'remote', uri: sshUri } });
    assert.equal(add.statusCode, 201, add.body);
    // placement: the only active host left is the remote one
    assert.equal((await t.app.inject({ method: 'POST', url: '/api/admin/hosts/default/drain', headers: admin.auth })).statusCode, 200);
    const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: user.auth, payload: { name: 'over-ssh', vcpus: 1, memory_mb: 96, disk_gb: 1, iso: isoId, start: true } });
    assert.equal(r.statusCode, 202, r.body);
    vm = r.json<VmJson>();
    assert.equal(vm.host, 'remote');
    await waitState(t.app, user, vm.uuid, 'running', 180_000);
  });

  after(async () => {
    try {
      if (t) {
        if (vm) {
          await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/action`, headers: user.auth, payload: { action: 'stop' } });
          await waitState(t.app, user, vm.uuid, 'stopped', 60_000).catch(() => undefined);
          await t.app.inject({ method: 'DELETE', url: `/api/vms/${vm.uuid}`, headers: user.auth });
          await waitGone(t.app, user, vm.uuid, 60_000).catch(() => undefined);
        }
        await t.close();
      }
      await driver?.close();
      assert.deepEqual(sshChildren().filter((c) => c.args.includes('-W')), [], 'no console tunnel outlives the app');
    } finally {
      if (run) {
        run('libvirt-host2.sh', 'stop');
        run('sshd.sh', 'stop');
      }
      svc?.remove();
    }
  });

  test('the console reaches QEMU through an ssh tunnel: greeting, ServerInit, a framebuffer update; closing it ends the ssh process', async () => {
    const port = await vncPort();
    const sshdLog = join(svc.state, 'sshd', 'sshd.log');
    const forwardsBefore = sshdForwardTargets(readFileSync(sshdLog, 'utf8')).filter((p) => p === port).length;

    const rfb = await rfbConnect(await ticket(vm.uuid), 120_000);
    assert.match(rfb.greeting, /^RFB 003\.00[38]\n$/);
    assert.ok(rfb.width > 0 && rfb.height > 0, `screen ${rfb.width}x${rfb.height}`);
    assert.ok(rfb.rectangles >= 1, 'a framebuffer update with at least one rectangle');

    // the bytes went through OpenSSH: one ssh child forwarding to this VM's VNC port, and the
    // sshd it logged into names that port as the channel's target
    const tunnels = sshChildren().filter((c) => c.args.includes(`127.0.0.1:${port}`));
    assert.equal(tunnels.length, 1, JSON.stringify(sshChildren()));
    assert.ok(tunnels[0]!.args.includes('-W'));
    const forwardsAfter = sshdForwardTargets(readFileSync(sshdLog, 'utf8')).filter((p) => p === port).length;
    assert.equal(forwardsAfter, forwardsBefore + 1, 'sshd forwarded exactly one channel to the VNC port');

    rfb.ws.close();
    await rfb.closed;
    await waitFor('the ssh tunnel process is gone', () => !sshChildren().some((c) => c.pid === tunnels[0]!.pid), 30_000);
    await waitFor('session recorded as closed by the client', async () => {
      const r = await t.app.inject({ method: 'GET', url: '/api/admin/console-sessions?open=false', headers: admin.auth });
      const s = r.json<{ items: { vm_uuid: string; end_reason: string | null; bytes_to_client: number }[] }>().items.find((x) => x.vm_uuid === vm.uuid);
      return s?.end_reason === 'client_closed' && s.bytes_to_client > 0 ? true : undefined;
    }, 30_000);
  });

  test('stopping the VM closes its console with the reason and ends the ssh process', async () => {
    const rfb = await rfbConnect(await ticket(vm.uuid), 120_000);
    const tunnel = await waitFor('its tunnel', () => sshChildren().find((c) => c.args.includes('-W')), 10_000);
    const stop = await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/action`, headers: user.auth, payload: { action: 'stop' } });
    assert.equal(stop.statusCode, 202, stop.body);
    const closed = await rfb.closed;
    assert.equal(closed.code, 4001, closed.reason);
    assert.match(closed.reason, /not running/);
    await waitFor('the ssh tunnel process is gone', () => !sshChildren().some((c) => c.pid === tunnel.pid), 30_000);
    await waitState(t.app, user, vm.uuid, 'stopped', 60_000);
  });
});
