// The reconciler lists rows, then asks libvirt, then works row by row. A create that fails and is
// rolled back while a tick holds its (older) list must stay rolled back: the tick may not "redo the
// interrupted creation" from the listed copy of a row that no longer exists. This happened in CI:
// a group provision listed a member as failed while the reconciler was re-making their disk.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { waitFor, waitGone } from './vm-helpers.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';

/** A gate a test opens by hand. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

const DOOMED = 'doomed';
const defineGate = gate();
let defineCalls = 0;
let listGate: ReturnType<typeof gate> | null = null;
let reconcilerLists = 0;

/** test:///default where defining DOOMED waits for the test and then fails, and the reconciler's listDomains can be held. */
function scriptedDriver(): HypervisorDriver {
  const base = createLibvirtDriver({ uri: 'test:///default' });
  return new Proxy(base, {
    get(target, prop, receiver) {
      if (prop === 'defineDomain') {
        return async (spec: Parameters<HypervisorDriver['defineDomain']>[0]) => {
          if (spec.title !== DOOMED) return target.defineDomain(spec);
          defineCalls++;
          await defineGate.wait;
          throw new Error('injected: libvirt refused to define the domain');
        };
      }
      if (prop === 'listDomains') {
        return async () => {
          // only the reconciler's calls (the event poll lists domains too)
          if (new Error().stack?.includes('vm-reconciler')) {
            reconcilerLists++;
            // the first call after arming may carry rows read before the test's create: let it pass
            if (listGate && reconcilerLists > 1) await listGate.wait;
          }
          return target.listDomains();
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

let t: TestApp;
let user: TestUser;
let admin: TestUser;
const driver = scriptedDriver();
before(async () => {
  t = await buildTestApp({ driver, vmOptions: { reconcileEveryMs: 100 } });
  user = await newUser(t.app);
  admin = await newAdmin(t.app);
});
after(async () => {
  listGate?.open();
  defineGate.open();
  await t.close();
  await driver.close();
});

test('a create rolled back while a reconciler tick holds its list is not redone by that tick', async () => {
  const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: user.auth, payload: { name: DOOMED, vcpus: 1, memory_mb: 64, disk_gb: 1 } });
  assert.equal(r.statusCode, 202, r.body);
  const uuid = r.json<{ uuid: string }>().uuid;
  await waitFor('the define call', () => defineCalls === 1);

  // hold a tick that listed the row as `creating` (busy: the tick skips it... unless the row is
  // gone by the time the tick reaches it, and the tick still trusts its list)
  listGate = gate();
  reconcilerLists = 0;
  await waitFor('a reconciler tick held after listing the creating row', () => reconcilerLists >= 2);

  defineGate.open(); // the define fails: the create rolls back (disk removed, row deleted)
  await waitGone(t.app, user, uuid);
  assert.equal(existsSync(`${t.dataDir}/disks/${uuid}.qcow2`), false, 'the rollback removed the disk');

  const held = reconcilerLists;
  listGate.open();
  await waitFor('the held tick to finish and another to start', () => reconcilerLists >= held + 1);
  await new Promise((res) => setTimeout(res, 300));

  assert.equal(defineCalls, 1, 'the held tick redid the rolled-back creation');
  assert.equal(existsSync(`${t.dataDir}/disks/${uuid}.qcow2`), false, 'the disk stays removed');
  const audit = await t.app.inject({ method: 'GET', url: `/api/admin/audit?target_id=${uuid}&action=vm.create`, headers: admin.auth });
  const creates = audit.json<{ items: { action: string; result: string }[] }>().items.filter((a) => a.action === 'vm.create');
  // the request's row (accepted) and one rolled-back creation, not a second one from the tick
  assert.deepEqual(creates.map((a) => a.result).sort(), ['failure', 'success'], JSON.stringify(creates));
});
