// Backup progress over /ws/events: the hub's admin-only channel (publishAdmin) reaches admins and
// nobody else, and a backup pushes progress and its outcome through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { createEventHub } from '../../src/modules/events/index.js';
import { createBackupService } from '../../src/modules/backups/index.js';
import type { Principal } from '../../src/platform/http/principal.js';
import { liveInstall, seed } from './fixtures.js';

class FakeSocket extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  send(data: string, cb?: (err?: Error) => void): void {
    this.sent.push(data);
    cb?.();
  }
  ping(): void {}
  terminate(): void {
    this.readyState = 3;
  }
  close(): void {
    this.readyState = 3;
  }
}

const p = (id: string, role: 'user' | 'admin'): Principal => ({ id, username: id, role, status: 'active', sessionFamily: 'f' });

test('publishAdmin: admins only; VM events unchanged', async () => {
  const hub = createEventHub({ log: { warn: () => undefined, debug: () => undefined } });
  const user = new FakeSocket();
  const admin = new FakeSocket();
  hub.attach(user as unknown as WebSocket, p('u', 'user'));
  hub.attach(admin as unknown as WebSocket, p('a', 'admin'));
  await new Promise((r) => setImmediate(r));
  hub.publishAdmin('backup.progress', { backup: { id: 'b1', bytes: 5 }, type: 'spoofed' });
  const adminMsgs = admin.sent.map((m) => JSON.parse(m) as { type: string; backup?: { id: string } });
  assert.deepEqual(adminMsgs.filter((m) => m.type === 'backup.progress').map((m) => m.backup?.id), ['b1'], 'the type argument wins over the payload');
  assert.ok(!user.sent.some((m) => m.includes('backup')), 'users never see backup events');
  hub.publish('vm.state', { uuid: 'v1', owner_id: 'u' });
  assert.ok(user.sent.some((m) => m.includes('vm.state')));
  hub.close();
});

test('a backup pushes progress and completion to the admin channel', { timeout: 120_000 }, async () => {
  const live = await liveInstall('pglite', { memory: true });
  try {
    await seed(live, 1);
    const events: { type: string; payload: { backup: Record<string, unknown> } }[] = [];
    const svc = createBackupService({ config: live.config, database: live.database, driver: () => undefined, events: { publishAdmin: (type, payload) => events.push({ type, payload: payload as { backup: Record<string, unknown> } }) } });
    const out = await svc.create({ origin: 'cli', requestedBy: null });
    assert.ok(events.some((e) => e.type === 'backup.progress' && e.payload.backup.id === out.row.id));
    const last = events.at(-1)!;
    assert.equal(last.type, 'backup.completed');
    assert.equal(last.payload.backup.file, out.archive.file);
  } finally {
    await live.cleanup();
  }
});
