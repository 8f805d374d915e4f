// A VNC-like TCP server for console tests: greets with the RFB banner, echoes what it receives,
// and records every connection so tests can prove a refused ticket never reached it.
import { createServer, type Server, type Socket } from 'node:net';

export interface FakeVnc {
  port: number;
  connections: number;
  received: Buffer[];
  sockets: Set<Socket>;
  close(): Promise<void>;
}

export async function startFakeVnc(): Promise<FakeVnc> {
  const state: Omit<FakeVnc, 'port' | 'close'> = { connections: 0, received: [], sockets: new Set() };
  const server: Server = createServer((sock) => {
    state.connections++;
    state.sockets.add(sock);
    sock.on('close', () => state.sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.write('RFB 003.008\n');
    sock.on('data', (d) => {
      state.received.push(d);
      sock.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return Object.assign(state, {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of state.sockets) s.destroy();
        server.close(() => r());
      }),
  });
}
