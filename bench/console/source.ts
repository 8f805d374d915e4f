// The VNC-like source every bench mode talks to, in a process of its own so the client, the
// proxy and the source each get their own event loop (as QEMU's VNC server would be).
// Protocol: greets with the RFB banner; a 12-byte bulk request (BULK_MAGIC + u64 length) makes it
// stream that many bytes; anything else is echoed back as is (small "input event" round trips).
import { createServer, type Socket } from 'node:net';
import { BANNER, BULK_MAGIC, BULK_REQUEST_LEN } from './protocol.js';

// One shared, prefilled block: the source must cost as little CPU per byte as possible.
const BLOCK = Buffer.alloc(256 * 1024, 0x5a);

function streamBulk(sock: Socket, total: number): void {
  let left = total;
  const push = (): void => {
    while (left > 0) {
      const n = Math.min(left, BLOCK.length);
      left -= n;
      // Backpressure: stop when the kernel buffer and Node's queue are full, go on at 'drain'.
      if (!sock.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
        sock.once('drain', push);
        return;
      }
    }
  };
  push();
}

const server = createServer({ noDelay: true }, (sock) => {
  sock.on('error', () => undefined);
  sock.write(BANNER);
  sock.on('data', (d: Buffer) => {
    if (d.length === BULK_REQUEST_LEN && d.readUInt32BE(0) === BULK_MAGIC) {
      streamBulk(sock, Number(d.readBigUInt64BE(4)));
    } else {
      sock.write(d);
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
// Ends with its parent (stdin closes), so an aborted bench leaves no server behind.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
