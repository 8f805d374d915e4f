// bench/events: 2,000 /ws/events subscribers of one user (in two client processes, so the clients
// do not share the server's event loop); the server is in this process on the libvirt test driver.
// Each round starts or destroys a domain through the driver; the time from that call to the
// vm.state message on every socket is one sample (libvirt event → store write → fan-out → socket).
// Target (issue 12): p99 ≤ 100 ms.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mergeResults, round, type BenchEntry } from '../lib/results.js';
import { benchApp, load1, loginToken, machine, percentile } from '../api/fixture.js';

const SUBSCRIBERS = Number(process.env.BENCH_EVENT_SUBSCRIBERS ?? 2000);
const PROCESSES = 2;
const ROUNDS = 20;

const b = await benchApp({ users: 2, vms: 0 });
const user = b.users[1]!;
const token = await loginToken(b.app, user.username);
await b.app.listen({ port: 0, host: '127.0.0.1' });
const url = `ws://127.0.0.1:${(b.app.server.address() as { port: number }).port}/ws/events`;

// One VM, provisioned through the API (no disk written), then driven through the driver.
const created = await b.app.inject({ method: 'POST', url: '/api/vms', headers: { authorization: `Bearer ${token}` }, payload: { name: 'ev', vcpus: 1, memory_mb: 64, disk_gb: 1 } });
if (created.statusCode !== 202) throw new Error(`create: ${created.body}`);
const uuid = created.json<{ uuid: string }>().uuid;
for (let i = 0; i < 100; i++) {
  const s = (await b.app.inject({ method: 'GET', url: `/api/vms/${uuid}`, headers: { authorization: `Bearer ${token}` } })).json<{ state: string }>().state;
  if (s === 'stopped') break;
  await new Promise((r) => setTimeout(r, 100));
}

const t0 = Date.now();
const children: ChildProcessWithoutNullStreams[] = [];
const lines: AsyncIterator<string>[] = [];
for (let p = 0; p < PROCESSES; p++) {
  const c = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./clients.ts', import.meta.url)), url, String(SUBSCRIBERS / PROCESSES), token]);
  c.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  children.push(c);
  lines.push(createInterface({ input: c.stdout })[Symbol.asyncIterator]());
}
for (const l of lines) if ((await l.next()).value !== 'ready') throw new Error('client process failed');
const connectS = round((Date.now() - t0) / 1000, 1);
console.log(`${SUBSCRIBERS} subscribers connected in ${connectS} s (hub: ${b.app.limen.events.clientCount()} clients)`);

const now = (): number => performance.timeOrigin + performance.now();
const rounds: { state: string; at: number }[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const start = r % 2 === 0;
  rounds.push({ state: start ? 'running' : 'stopped', at: now() });
  await (start ? b.app.limen.driver.start(uuid) : b.app.limen.driver.destroy(uuid));
  await new Promise((res) => setTimeout(res, 600));
}

const latencies: number[] = [];
let missing = 0;
for (let p = 0; p < PROCESSES; p++) {
  children[p]!.stdin.write('report\n');
  const { arrivals } = JSON.parse((await lines[p]!.next()).value as string) as { arrivals: [number, string, number][] };
  const bySocket = new Map<number, [string, number][]>();
  for (const [s, state, at] of arrivals) bySocket.set(s, [...(bySocket.get(s) ?? []), [state, at]]);
  for (let s = 0; s < SUBSCRIBERS / PROCESSES; s++) {
    const got = bySocket.get(s) ?? [];
    rounds.forEach((round, i) => {
      const until = rounds[i + 1]?.at ?? Infinity;
      const hit = got.find(([state, at]) => state === round.state && at >= round.at && at < until);
      if (hit) latencies.push(hit[1] - round.at);
      else missing++;
    });
  }
}
await b.close();

latencies.sort((a, c) => a - c);
const p50 = round(percentile(latencies, 50), 1);
const p99 = round(percentile(latencies, 99), 1);
const max = round(latencies[latencies.length - 1] ?? NaN, 1);
console.log(`${latencies.length} deliveries, ${missing} missing: p50 ${p50} ms, p99 ${p99} ms, max ${max} ms`);
const entries: BenchEntry[] = [
  { name: 'events.fanout_2000.p99', value: p99, unit: 'ms', baseline: p50, ratio: round(p99 / p50), target: '≤ 100 ms (libvirt event → delivery, 2,000 subscribers)', met: p99 <= 100 && missing === 0 },
  { name: 'events.fanout_2000.p50', value: p50, unit: 'ms', baseline: null, ratio: null, target: null, met: null },
  { name: 'events.fanout_2000.missing', value: missing, unit: 'deliveries', baseline: 0, ratio: null, target: '= 0', met: missing === 0 },
];
const md = `# Event fan-out — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC

${machine()} (1-min load at the end ${load1()}; the machine is shared). ${SUBSCRIBERS} \`/ws/events\` sockets of one user, opened
from ${PROCESSES} client processes (connected in ${connectS} s); ${ROUNDS} rounds, each a driver start or destroy of one VM on the
libvirt test driver, 600 ms apart. A sample is the time from the driver call to the matching \`vm.state\` message on one socket
(${latencies.length} samples). Baseline column: the p50.

| figure | value | baseline | ratio | target | met |
|---|---|---|---|---|---|
${entries.map((e) => `| ${e.name} | ${e.value} ${e.unit} | ${e.baseline ?? '—'} | ${e.ratio ?? '—'} | ${e.target ?? '—'} | ${e.met ?? '—'} |`).join('\n')}
`;
console.log(md);
console.log(`results: ${mergeResults(entries, { suffix: 'events', text: md })}`);
process.exit(0);
