// `limen hosts list|add|drain|undrain|remove`: the hosts table straight in the database (running
// instances follow it within one watchdog tick, 5 s). `add` connects to the URI first and records
// the capacity libvirt reports, like POST /api/admin/hosts. With the embedded database this needs
// the server stopped (withCliDatabase says so); with PostgreSQL it works next to running instances.
import type { Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { createLibvirtDriver } from '../hypervisor/index.js';
import { insertAudit } from '../modules/audit/audit.repo.js';
import { HOST_NAME_RE, HOST_URI_RE } from '../modules/hosts/hosts.service.js';
import { consoleUriProblem } from '../modules/consoles/index.js';
import * as repo from '../modules/hosts/hosts.repo.js';
import type { Queryable } from '../platform/db/query.js';
import { withCliDatabase } from './cli-database.js';

const fail = (msg: string): never => {
  console.error(msg);
  process.exit(1);
};

const auditCli = (db: Queryable, action: string, name: string, details?: Record<string, unknown>) =>
  insertAudit(db, { actorId: null, actorUsername: 'cli', action, targetType: 'host', targetId: name, result: 'success', details, requestId: null, ip: null });

export function registerHostsCommands(program: Command): void {
  const hosts = program.command('hosts').description('manage hypervisor hosts (libvirt URIs)');

  hosts
    .command('list')
    .description('list hosts with capacity, allocation and last known reachability')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      await withCliDatabase(loadProcessConfig(), async ({ db }) => {
        const rows = await repo.listHostLoads(db);
        if (o.json) return console.log(JSON.stringify(rows, null, 2));
        for (const h of rows) {
          const cap = h.cpus === null ? 'capacity unknown' : `${h.usedVcpus}/${h.cpus} vCPU, ${h.usedMemoryMb}/${h.memoryMb} MiB`;
          console.log(`${h.name}\t${h.state}\t${h.reachable ? 'reachable' : 'UNREACHABLE'}\t${h.vmCount} VMs\t${cap}\t${h.uri}`);
        }
      });
    });

  hosts
    .command('add <name> <uri>')
    .description('add a host: qemu:///system, qemu+ssh://user@host/system, qemu+tls://host/system …')
    .option('--cpu-overcommit <ratio>', 'vCPUs allocatable per physical CPU (default LIMEN_CPU_OVERCOMMIT)', Number)
    .option('--memory-overcommit <ratio>', 'memory allocatable per MiB of RAM (default LIMEN_MEMORY_OVERCOMMIT)', Number)
    .action(async (name: string, uri: string, o: { cpuOvercommit?: number; memoryOvercommit?: number }) => {
      if (!HOST_NAME_RE.test(name)) fail('host name: 1-32 of [a-z0-9-], starting with a letter or digit');
      if (!HOST_URI_RE.test(uri)) fail('not a libvirt URI LIMEN accepts (qemu[+ssh|+tls|+tcp|+unix]://… or test:///…)');
      const consoleProblem = consoleUriProblem(uri);
      if (consoleProblem) fail(`consoles could not use this URI: ${consoleProblem}`);
      for (const r of [o.cpuOvercommit, o.memoryOvercommit]) if (r !== undefined && !(r > 0)) fail('overcommit ratios must be positive numbers');
      const driver = createLibvirtDriver({ uri });
      try {
        await driver.connect().catch((e: unknown) => fail(`cannot connect to ${uri}: ${(e as Error).message}`));
        const c = await driver.capacity();
        await withCliDatabase(loadProcessConfig(), async ({ db }) => {
          if (await repo.findHost(db, name)) fail(`host ${name} exists`);
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
    hosts
      .command(`${cmd} <name>`)
      .description(cmd === 'drain' ? 'stop placing new VMs on the host (its VMs stay)' : 'return a drained host to placement')
      .action(async (name: string) => {
        await withCliDatabase(loadProcessConfig(), async ({ db }) => {
          if (!(await repo.setHostState(db, name, state))) fail(`no host ${name}`);
          await auditCli(db, `host.${cmd}`, name);
        });
        console.log(`${name}: ${state}`);
      });
  }

  hosts
    .command('remove <name>')
    .description('remove a host (refused while VMs are on it; the default host cannot be removed)')
    .action(async (name: string) => {
      if (name === 'default') fail('the default host comes from LIBVIRT_URI and cannot be removed');
      await withCliDatabase(loadProcessConfig(), async ({ db }) => {
        if (!(await repo.findHost(db, name))) fail(`no host ${name}`);
        const n = await repo.countVmsOnHost(db, name);
        if (n > 0) fail(`host ${name} still has ${n} VM(s): migrate or delete them first`);
        await repo.deleteHost(db, name);
        await auditCli(db, 'host.remove', name);
      });
      console.log(`removed ${name}`);
    });
}
