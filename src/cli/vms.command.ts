// `limen vms migrate <uuid> <host>`: asks the RUNNING instance to move a VM (the move needs its
// libvirt connections, VM locks and event stream, so it is never done straight in the database
// like `limen hosts`). Finds the instance like `limen alerts config` (--url / LIMEN_URL, else its
// limen.pid), signs in as an admin (--user, default LIMEN_ADMIN_USER; password from
// LIMEN_ADMIN_PASSWORD[_FILE], else $LIMEN_DATA_DIR/initial-admin-password) and waits until the
// VM has landed (a live move answers 202 first). Exit 0 when moved, 1 on refusal or failure.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { instanceUrl } from './alerts.command.js';

interface VmView {
  uuid: string;
  name: string;
  state: string;
  host: string;
  migrating_to: string | null;
  error_message: string | null;
}

const fail = (msg: string): never => {
  console.error(msg);
  process.exit(1);
};

async function call<T>(url: string, init: RequestInit): Promise<{ status: number; body: T }> {
  const r = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...init.headers } }).catch((e: unknown) => fail(`cannot reach LIMEN at ${url}: ${(e as Error).message}`));
  return { status: r.status, body: (await r.json().catch(() => ({}))) as T };
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
      const config = loadProcessConfig();
      const base = instanceUrl(config, o.url);
      const passwordFile = join(config.dataDir, 'initial-admin-password');
      const password = config.adminPassword ?? (existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : fail('no admin password: set LIMEN_ADMIN_PASSWORD (or _FILE)'));
      const login = await call<{ access_token?: string; message?: string }>(`${base}/api/auth/login`, {
        method: 'POST',
        body: JSON.stringify({ username: o.user ?? config.adminUser, password }),
      });
      if (login.status !== 200 || !login.body.access_token) fail(`sign-in failed (${login.status}): ${login.body.message ?? ''}`);
      const auth = { authorization: `Bearer ${login.body.access_token}` };
      const r = await call<VmView & { message?: string; error_code?: string }>(`${base}/api/admin/vms/${encodeURIComponent(uuid)}/migrate`, { method: 'POST', headers: auth, body: JSON.stringify({ host }) });
      if (r.status !== 200 && r.status !== 202) fail(`refused (${r.status} ${r.body.error_code ?? ''}): ${r.body.message ?? ''}`);
      if (r.status === 202) console.log(`live migration of ${r.body.name} from ${r.body.host} to ${host} started`);
      const until = Date.now() + o.timeout * 1000;
      let vm = r.body;
      while (vm.migrating_to !== null) {
        if (Date.now() > until) fail(`still migrating after ${o.timeout} s; check GET /api/vms/${uuid}`);
        await new Promise((res) => setTimeout(res, 500));
        vm = (await call<VmView>(`${base}/api/vms/${encodeURIComponent(uuid)}`, { method: 'GET', headers: auth })).body;
      }
      if (vm.host !== host) fail(`migration failed; the VM stays on ${vm.host}: ${vm.error_message ?? 'see the audit log (vm.migrate)'}`);
      console.log(`${vm.name} (${vm.uuid}) is on ${vm.host}, ${vm.state}`);
    });
}
