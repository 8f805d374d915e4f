// `limen hosts list|add|drain|undrain|remove`. Two ways, the same rules and output:
// - a running server holds the embedded database (its limen.pid is alive): through that server's
//   admin API (/api/admin/hosts*), signed in like `limen vms` (instance-client.ts) — the server
//   is what an operator normally has running, and only it may open that database;
// - otherwise (no server, or PostgreSQL): the hosts table straight in the database; running
//   instances follow it within one watchdog tick (5 s). `add` connects to the URI first and
//   records the capacity libvirt reports, like POST /api/admin/hosts.
import type { Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { createLibvirtDriver } from '../hypervisor/index.js';
import { insertAudit } from '../modules/audit/audit.repo.js';
import { HOST_NAME_RE, HOST_URI_RE } from '../modules/hosts/hosts.service.js';
import { consoleUriProblem } from '../modules/consoles/index.js';
import * as repo from '../modules/hosts/hosts.repo.js';
import type { Queryable } from '../platform/db/query.js';
import { withCliDatabase } from './cli-database.js';
import { apiWhenServerHoldsDatabase, cliFail, refusal, withApiOptions, type ApiOptions } from './instance-client.js';

/** What the admin API says of a host (HostDto), as far as the CLI prints it. */
interface HostView {
  name: string;
  uri: string;
  state: string;
  reachable: boolean;
  capacity: { vcpus: number; memory_mb: number } | null;
  allocated: { vms: number; vcpus: number; memory_mb: number };
}

const hostLine = (h: { name: string; state: string; reachable: boolean; vms: number; cpus: number | null; memoryMb: number | null; usedVcpus: number; usedMemoryMb: number; uri: string }): string => {
  const cap = h.cpus === null ? 'capacity unknown' : `${h.usedVcpus}/${h.cpus} vCPU, ${h.usedMemoryMb}/${h.memoryMb} MiB`;
  return `${h.name}\t${h.state}\t${h.reachable ? 'reachable' : 'UNREACHABLE'}\t${h.vms} VMs\t${cap}\t${h.uri}`;
};

const auditCli = (db: Queryable, action: string, name: string, details?: Record<string, unknown>) =>
  insertAudit(db, { actorId: null, actorUsername: 'cli', action, targetType: 'host', targetId: name, result: 'success', details, requestId: null, ip: null });

export function registerHostsCommands(program: Command): void {
  const hosts = program.command('hosts').description('manage hypervisor hosts (libvirt URIs)');

  withApiOptions(hosts.command('list'))
    .description('list hosts with capacity, allocation and last known reachability')
    .option('--json', 'print JSON')
    .action(async (o: ApiOptions & { json?: boolean }) => {
      const config = loadProcessConfig();
      const api = await apiWhenServerHoldsDatabase(config, o);
      if (api) {
        const r = await api.call<{ items: HostView[] }>('GET', '/api/admin/hosts');
        if (r.status !== 200) cliFail(refusal(r));
        if (o.json) return console.log(JSON.stringify(r.body.items, null, 2));
        for (const h of r.body.items)
          console.log(hostLine({ ...h, vms: h.allocated.vms, cpus: h.capacity?.vcpus ?? null, memoryMb: h.capacity?.memory_mb ?? null, usedVcpus: h.allocated.vcpus, usedMemoryMb: h.allocated.memory_mb }));
        return;
      }
      await withCliDatabase(config, async ({ db }) => {
        const rows = await repo.listHostLoads(db);
        if (o.json) return console.log(JSON.stringify(rows, null, 2));
        for (const h of rows) console.log(hostLine({ ...h, vms: h.vmCount }));
      });
    });

  withApiOptions(hosts.command('add <name> <uri>'))
    .description('add a host: qemu:///system, qemu+ssh://user@host/system, qemu+tls://host/system …')
    .option('--cpu-overcommit <ratio>', 'vCPUs allocatable per physical CPU (default LIMEN_CPU_OVERCOMMIT)', Number)
    .option('--memory-overcommit <ratio>', 'memory allocatable per MiB of RAM (default LIMEN_MEMORY_OVERCOMMIT)', Number)
    .action(async (name: string, uri: string, o: ApiOptions & { cpuOvercommit?: number; memoryOvercommit?: number }) => {
      if (!HOST_NAME_RE.test(name)) cliFail('host name: 1-32 of [a-z0-9-], starting with a letter or digit');
      if (!HOST_URI_RE.test(uri)) cliFail('not a libvirt URI LIMEN accepts (qemu[+ssh|+tls|+tcp|+unix]://… or test:///…)');
      const consoleProblem = consoleUriProblem(uri);
      if (consoleProblem) cliFail(`consoles could not use this URI: ${consoleProblem}`);
      for (const r of [o.cpuOvercommit, o.memoryOvercommit]) if (r !== undefined && !(r > 0)) cliFail('overcommit ratios must be positive numbers');
      const config = loadProcessConfig();
      const api = await apiWhenServerHoldsDatabase(config, o);
      if (api) {
        const r = await api.call<HostView>('POST', '/api/admin/hosts', { name, uri, cpu_overcommit: o.cpuOvercommit, memory_overcommit: o.memoryOvercommit });
        if (r.status !== 201) cliFail(refusal(r));
        return console.log(`added ${name}: ${r.body.capacity?.vcpus ?? '?'} CPUs, ${r.body.capacity?.memory_mb ?? '?'} MiB`);
      }
      const driver = createLibvirtDriver({ uri });
      try {
        await driver.connect().catch((e: unknown) => cliFail(`cannot connect to ${uri}: ${(e as Error).message}`));
        const c = await driver.capacity();
        await withCliDatabase(config, async ({ db }) => {
          if (await repo.findHost(db, name)) cliFail(`host ${name} exists`);
          await repo.insertHost(db, { name, uri, cpuOvercommit: o.cpuOvercommit ?? null, memoryOvercommit: o.memoryOvercommit ?? null });
          await repo.recordCapacity(db, name, { cpus: c.cpus, memoryMb: c.memoryMb, diskGb: null });
          await auditCli(db, 'host.add', name, { uri });
        });
        console.log(`added ${name}: ${c.cpus} CPUs, ${c.memoryMb} MiB`);
      } finally {
        await driver.close();
      }
    });

  for (const [cmd, state] of [['drain', 'draining'], ['undrain', 'active']] as const) {
    withApiOptions(hosts.command(`${cmd} <name>`))
      .description(cmd === 'drain' ? 'stop placing new VMs on the host (its VMs stay)' : 'return a drained host to placement')
      .action(async (name: string, o: ApiOptions) => {
        const config = loadProcessConfig();
        const api = await apiWhenServerHoldsDatabase(config, o);
        if (api) {
          const r = await api.call<HostView>('POST', `/api/admin/hosts/${encodeURIComponent(name)}/${cmd}`);
          if (r.status !== 200) cliFail(refusal(r));
          return console.log(`${name}: ${r.body.state}`);
        }
        await withCliDatabase(config, async ({ db }) => {
          if (!(await repo.setHostState(db, name, state))) cliFail(`no host ${name}`);
          await auditCli(db, `host.${cmd}`, name);
        });
        console.log(`${name}: ${state}`);
      });
  }

  withApiOptions(hosts.command('remove <name>'))
    .description('remove a host (refused while VMs are on it; the default host cannot be removed)')
    .action(async (name: string, o: ApiOptions) => {
      if (name === 'default') cliFail('the default host comes from LIBVIRT_URI and cannot be removed');
      const config = loadProcessConfig();
      const api = await apiWhenServerHoldsDatabase(config, o);
      if (api) {
        const r = await api.call('DELETE', `/api/admin/hosts/${encodeURIComponent(name)}`);
        if (r.status !== 204) cliFail(refusal(r));
        return console.log(`removed ${name}`);
      }
      await withCliDatabase(config, async ({ db }) => {
        if (!(await repo.findHost(db, name))) cliFail(`no host ${name}`);
        const n = await repo.countVmsOnHost(db, name);
        if (n > 0) cliFail(`host ${name} still has ${n} VM(s): migrate or delete them first`);
        await repo.deleteHost(db, name);
        await auditCli(db, 'host.remove', name);
      });
      console.log(`removed ${name}`);
    });
}
