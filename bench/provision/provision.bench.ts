// Provision bench: time from POST /api/vms (start=true) to a VNC RFB greeting on the new VM,
// median of 10, next to the same done by hand (qemu-img create + `virsh define` + `virsh start`)
// in the same script, on the same libvirt, with the same tiny TCG guest booting the GRUB rescue
// CD. Both are measured by the same poll (VNC endpoint from the live XML, then the RFB banner).
// Target: LIMEN ≤ 1.3× the virsh baseline. Results merge into bench/results/<date>.json.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildDomainXml, createDiskImages, createLibvirtDriver, domainNameFor, isHypervisorError, type HypervisorDriver } from '../../src/hypervisor/index.js';
import { readRfbGreeting } from '../../test/vms/vm-helpers.js';
import { BENCH_URI as URI, GRUB_ISO as ISO, startBenchApp } from '../lib/bench-app.js';
import { mergeResults, round } from '../lib/results.js';

const exec = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const TARGET_RATIO = 1.3;
const GUEST = { vcpus: 1, memoryMb: 96, diskGb: 1 };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Polls until the domain runs with a VNC port, then reads the RFB banner; returns when it did. */
async function vncReady(probe: HypervisorDriver, uuid: string): Promise<void> {
  for (;;) {
    try {
      const ep = await probe.getVncEndpoint(uuid);
      if (ep) {
        const banner = await readRfbGreeting(ep.host, ep.port, 30_000);
        if (!banner.startsWith('RFB 003.008')) throw new Error(`unexpected banner ${banner}`);
        return;
      }
    } catch (e) {
      if (!isHypervisorError(e, 'not_found') && !isHypervisorError(e, 'invalid_state')) throw e;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

const { app, auth, dataDir, isoId, close } = await startBenchApp('provision');
const probe = createLibvirtDriver({ uri: URI });
await probe.connect();

/** Domains this bench created and has not removed yet (cleaned up even when a run fails). */
const made = new Set<string>();

async function limenOnce(i: number): Promise<number> {
  const t0 = performance.now();
  const r = await app.inject({ method: 'POST', url: '/api/vms', headers: auth, payload: { name: `bench-${i}`, vcpus: GUEST.vcpus, memory_mb: GUEST.memoryMb, disk_gb: GUEST.diskGb, iso: isoId, start: true } });
  if (r.statusCode !== 202) throw new Error(`create failed: ${r.body}`);
  const uuid = r.json<{ uuid: string }>().uuid;
  await vncReady(probe, uuid);
  const dt = (performance.now() - t0) / 1000;
  made.add(uuid);
  // the guest can answer VNC a moment before the create operation records `running`
  for (let n = 0; (await app.inject({ method: 'GET', url: `/api/vms/${uuid}`, headers: auth })).json<{ state: string }>().state === 'creating'; n++) {
    if (n > 600) throw new Error('create did not settle');
    await new Promise((res) => setTimeout(res, 20));
  }
  const del = await app.inject({ method: 'DELETE', url: `/api/vms/${uuid}`, headers: auth });
  if (del.statusCode !== 202) throw new Error(`delete refused: ${del.body}`);
  for (let n = 0; ; n++) {
    const g = await app.inject({ method: 'GET', url: `/api/vms/${uuid}`, headers: auth });
    if (g.statusCode === 404) break;
    if (n > 600) throw new Error(`delete did not finish: ${g.body}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  made.delete(uuid);
  return dt;
}

const virshDir = join(dataDir, 'virsh');
mkdirSync(virshDir, { recursive: true, mode: 0o755 });
const disks = createDiskImages();
async function virshOnce(): Promise<number> {
  const uuid = randomUUID();
  const disk = join(virshDir, `${uuid}.qcow2`);
  const xmlFile = join(virshDir, `${uuid}.xml`);
  writeFileSync(xmlFile, buildDomainXml({ uuid, title: 'bench', vcpus: GUEST.vcpus, memoryMb: GUEST.memoryMb, accel: 'tcg', diskPath: disk, isoPath: ISO, bootOrder: ['cdrom', 'hd'] }));
  made.add(uuid);
  const t0 = performance.now();
  await disks.createDisk(disk, GUEST.diskGb);
  await exec('virsh', ['-c', URI, 'define', xmlFile]);
  await exec('virsh', ['-c', URI, 'start', domainNameFor(uuid)]);
  await vncReady(probe, uuid);
  const dt = (performance.now() - t0) / 1000;
  await exec('virsh', ['-c', URI, 'destroy', domainNameFor(uuid)]).catch(() => undefined);
  await exec('virsh', ['-c', URI, 'undefine', domainNameFor(uuid)]);
  rmSync(disk, { force: true });
  rmSync(xmlFile, { force: true });
  made.delete(uuid);
  return dt;
}

const limen: number[] = [];
const virsh: number[] = [];
try {
  // one warm-up each (first QEMU start pays for page cache and firmware loading)
  await virshOnce();
  await limenOnce(-1);
  for (let i = 0; i < RUNS; i++) {
    // alternate so drift in machine load hits both sides alike
    if (i % 2 === 0) {
      virsh.push(await virshOnce());
      limen.push(await limenOnce(i));
    } else {
      limen.push(await limenOnce(i));
      virsh.push(await virshOnce());
    }
    console.log(`run ${i + 1}/${RUNS}: limen ${round(limen.at(-1)!)} s, virsh ${round(virsh.at(-1)!)} s`);
  }
} finally {
  for (const uuid of made) {
    await probe.destroy(uuid).catch(() => undefined);
    await probe.undefineDomain(uuid).catch(() => undefined);
  }
  await probe.close();
  await close();
}

const l = median(limen);
const v = median(virsh);
const ratio = l / v;
const entries = [
  { name: 'provision.virsh.define_start_to_vnc', value: round(v), unit: 's', baseline: null, ratio: null, target: null, met: null },
  { name: 'provision.limen.post_to_vnc', value: round(l), unit: 's', baseline: round(v), ratio: round(ratio), target: `<= ${TARGET_RATIO}x virsh define+start`, met: ratio <= TARGET_RATIO },
];
const file = mergeResults(entries);
console.log(`provision: LIMEN median ${round(l)} s, virsh median ${round(v)} s, ratio ${round(ratio)} (target <= ${TARGET_RATIO}): ${ratio <= TARGET_RATIO ? 'met' : 'MISSED'}`);
console.log(`results: ${file}`);
