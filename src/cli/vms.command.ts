// `limen vms migrate <uuid> <host>`: asks the RUNNING instance to move a VM (the move needs its
// libvirt connections, VM locks and event stream, so it is never done straight in the database)
// and waits until the VM has landed (a live move answers 202 first). Exit 0 when moved, 1 on
// refusal or failure. How the instance is found and signed in to: instance-client.ts.
import { Option, type Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { cliFail, refusal, signInToInstance } from './instance-client.js';

interface VmView {
  uuid: string;
  name: string;
  state: string;
  host: string;
  migrating_to: string | null;
  error_message: string | null;
}

export function registerVmsCommands(program: Command): void {
  const vms = program.command('vms').description('virtual machines (through the running instance)');
  vms
    .command('migrate <uuid> <host>')
    .description('move a VM to another hypervisor host: stopped → cold, running → live')
    .addOption(new Option('--url <url>', 'base URL of the LIMEN instance').env('LIMEN_URL'))
    .option('--user <name>', 'admin account (default LIMEN_ADMIN_USER)')
    .option('--timeout <seconds>', 'how long to wait for a live move to land', Number, 600)
    .action(async (uuid: string, host: string, o: { url?: string; user?: string; timeout: number }) => {
      const api = await signInToInstance(loadProcessConfig(), o);
      const r = await api.call<VmView>('POST', `/api/admin/vms/${encodeURIComponent(uuid)}/migrate`, { host });
      if (r.status !== 200 && r.status !== 202) cliFail(refusal(r));
      if (r.status === 202) console.log(`live migration of ${r.body.name} from ${r.body.host} to ${host} started`);
      const until = Date.now() + o.timeout * 1000;
      let vm: VmView = r.body;
      while (vm.migrating_to !== null) {
        if (Date.now() > until) cliFail(`still migrating after ${o.timeout} s; check GET /api/vms/${uuid}`);
        await new Promise((res) => setTimeout(res, 500));
        vm = (await api.call<VmView>('GET', `/api/vms/${encodeURIComponent(uuid)}`)).body;
      }
      if (vm.host !== host) cliFail(`migration failed; the VM stays on ${vm.host}: ${vm.error_message ?? 'see the audit log (vm.migrate)'}`);
      console.log(`${vm.name} (${vm.uuid}) is on ${vm.host}, ${vm.state}`);
    });
}
