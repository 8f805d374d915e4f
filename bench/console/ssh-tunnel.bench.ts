// SSH console tunnel bench: how long until the RFB greeting arrives, and how fast a bulk screen
// update comes through, for (a) a direct TCP connection (the baseline), (b) one `ssh -W` child per
// session — what LIMEN does — and (c) a ControlMaster per host with `ssh -S <socket> -W` clients
// (the alternative). Real OpenSSH on both ends (scripts/services/sshd.sh), a VNC-like server
// that greets and then streams BENCH_SSH_MB MiB on request. Same machine, same run, so the
// ratios hold even when the absolute numbers move with the load. Root only (the sshd logs in root).
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { vncRoute } from '../../src/modules/consoles/vnc-route.js';
import { mergeResults, round, type BenchEntry } from '../lib/results.js';

const ROUNDS = Number(process.env.BENCH_SSH_ROUNDS ?? 15);
const MB = Number(process.env.BENCH_SSH_MB ?? 32);
if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/sshd')) throw new Error('ssh tunnel bench: needs root and openssh-server');

const state = mkdtempSync(join(tmpdir(), 'limen-bench-ssh-'));
chmodSync(state, 0o755);
const sshd = (...args: string[]) => execFileSync('bash', [join(import.meta.dirname, '..', '..', 'scripts', 'services', 'sshd.sh'), ...args], { env: { ...process.env, LIMEN_STATE: state }, encoding: 'utf8' }).trim();

// greets; a byte 'B' asks for MB MiB of screen data
const payload = Buffer.alloc(1024 * 1024, 0x5a);
const server = createServer((s) => {
  s.on('error', () => undefined);
  s.write('RFB 003.008\n');
  s.on('data', (d) => {
    if (d.includes(0x42)) for (let i = 0; i < MB; i++) s.write(payload);
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const vncPort = (server.address() as { port: number }).port;

interface Link { output: Readable; input: Writable; close(): Promise<void> }

const direct = async (): Promise<Link> => {
  const s: Socket = connect({ host: '127.0.0.1', port: vncPort });
  return { output: s, input: s, close: async () => void s.destroy() };
};
const viaSsh = (extra: string[]) => async (): Promise<Link> => {
  const route = vncRoute({ host: '127.0.0.1', port: vncPort, hostUri: sshd('uri') });
  if (route.kind !== 'ssh') throw new Error('expected an ssh route');
  const child = spawn('ssh', [...extra, ...route.argv], { stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { output: child.stdout, input: child.stdin, close: async () => void (child.kill(), await exited) };
};

async function greetingMs(open: () => Promise<Link>): Promise<number> {
  const t0 = performance.now();
  const l = await open();
  await new Promise<void>((r) => l.output.once('data', () => r()));
  const ms = performance.now() - t0;
  await l.close();
  return ms;
}

async function throughputMBs(open: () => Promise<Link>): Promise<number> {
  const l = await open();
  await new Promise<void>((r) => l.output.once('data', () => r()));
  let got = 0;
  const t0 = performance.now();
  await new Promise<void>((r) => {
    l.output.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= MB * 1024 * 1024) r();
    });
    l.input.write('B');
  });
  const s = (performance.now() - t0) / 1000;
  await l.close();
  return MB / s;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))]!;

try {
  sshd('start');
  const master = join(state, 'ctl.sock');
  const route = vncRoute({ host: '127.0.0.1', port: vncPort, hostUri: sshd('uri') });
  if (route.kind !== 'ssh') throw new Error('expected an ssh route');
  // the ControlMaster variant: one master per host, opened once (its own start-up not counted)
  const destination = route.argv.slice(route.argv.indexOf('--'));
  const options = route.argv.slice(0, route.argv.indexOf('-W'));
  const m = spawn('ssh', ['-M', '-S', master, '-N', ...options, ...destination], { stdio: 'ignore' });
  for (let i = 0; i < 300 && !existsSync(master); i++) await new Promise((r) => setTimeout(r, 100));
  if (!existsSync(master)) throw new Error('ControlMaster did not come up');

  const kinds = { direct, ssh_per_session: viaSsh([]), ssh_control_master: viaSsh(['-S', master]) } as const;
  const greet: Record<string, number[]> = { direct: [], ssh_per_session: [], ssh_control_master: [] };
  const rate: Record<string, number[]> = { direct: [], ssh_per_session: [], ssh_control_master: [] };
  // interleaved rounds: load changes hit every variant alike
  for (let i = 0; i < ROUNDS; i++) for (const [k, open] of Object.entries(kinds)) greet[k]!.push(await greetingMs(open));
  for (let i = 0; i < 3; i++) for (const [k, open] of Object.entries(kinds)) rate[k]!.push(await throughputMBs(open));
  m.kill();

  const base = median(greet.direct!);
  const entries: BenchEntry[] = [];
  const lines: string[] = [];
  for (const k of Object.keys(kinds)) {
    const g = median(greet[k]!);
    const r = median(rate[k]!);
    entries.push(
      { name: `console_ssh_greeting_${k}`, value: round(g, 1), unit: 'ms', baseline: k === 'direct' ? null : round(base, 1), ratio: k === 'direct' ? null : round(g / base, 1), target: null, met: null },
      { name: `console_ssh_throughput_${k}`, value: round(r, 1), unit: 'MB/s', baseline: k === 'direct' ? null : round(median(rate.direct!), 1), ratio: k === 'direct' ? null : round(r / median(rate.direct!), 2), target: null, met: null },
    );
    lines.push(`| ${k} | ${round(g, 1)} | ${round(p90(greet[k]!), 1)} | ${round(r, 1)} |`);
  }
  const load = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ');
  const text = `# Console over SSH: per-session ssh vs ControlMaster (${new Date().toISOString()})

Load average ${load}; ${ROUNDS} greetings and 3 bulk transfers of ${MB} MiB per variant, interleaved.

| variant | greeting median ms | greeting p90 ms | bulk MB/s (median) |
|---|---|---|---|
${lines.join('\n')}

Greeting = spawn/connect until the RFB banner arrives (what a user waits for when the console
opens). The ControlMaster's own login is not counted (it is paid once per host).
`;
  console.log(text);
  console.log(`results: ${mergeResults(entries, { suffix: 'console-ssh', text })}`);
} finally {
  server.close();
  sshd('stop');
  rmSync(state, { recursive: true, force: true });
}
