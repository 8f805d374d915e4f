// Child process of events.bench.ts: opens N /ws/events sockets to the server given in argv,
// records the arrival time (epoch ms, sub-millisecond) of every vm.state message, says "ready"
// once every socket has its snapshot, and on "report" (stdin) prints the arrivals and exits.
import WebSocket from 'ws';

const [url, countArg, token] = process.argv.slice(2) as [string, string, string];
const count = Number(countArg);
const now = (): number => performance.timeOrigin + performance.now();
const arrivals: [number, string, number][] = []; // [socket, state, at]
const sockets: WebSocket[] = [];
let ready = 0;

for (let i = 0; i < count; i++) {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  sockets.push(ws);
  ws.on('message', (data: Buffer) => {
    const at = now();
    const msg = JSON.parse(data.toString()) as { type: string; vm?: { state?: string } };
    if (msg.type === 'snapshot' && ++ready === count) process.stdout.write('ready\n');
    else if (msg.type === 'vm.state') arrivals.push([i, msg.vm?.state ?? '', at]);
  });
  ws.on('error', (err) => process.stderr.write(`socket ${i}: ${err.message}\n`));
  // Gentle ramp: the server accepts upgrades one event-loop turn at a time.
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
}

process.stdin.on('data', (d) => {
  if (!d.toString().includes('report')) return;
  for (const ws of sockets) ws.terminate();
  // exit only once the (large) line is flushed to the pipe
  process.stdout.write(`${JSON.stringify({ arrivals })}\n`, () => process.exit(0));
});
