// The state poll is the only event source for test:/// URIs. A poll answer can arrive after an
// inline action (resume) has already written a newer state; the events synthesized from it must
// carry the time the list was asked for, or the VM store takes the stale 'paused' for news.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DomainEvent, DomainSummary } from '../../src/hypervisor/hypervisor.js';
import { EventHub } from '../../src/hypervisor/libvirt/events.js';

const uuid = '11111111-2222-4333-8444-555555555555';
const dom = (state: DomainSummary['state']): DomainSummary => ({ uuid, name: `limen-${uuid}`, state });

test('a poll event is dated when the domain list was requested, not when it arrived', async () => {
  let state: DomainSummary['state'] = 'running';
  let release: (() => void) | null = null;
  let slow = false;
  const hub = new EventHub({
    listDomains: async () => {
      const snapshot = [dom(state)];
      if (slow) await new Promise<void>((r) => (release = r));
      return snapshot;
    },
    resolveName: async () => null,
    streamCommand: null,
    pollIntervalMs: 60_000,
    maxBackoffMs: 1000,
  });
  const events: DomainEvent[] = [];
  hub.subscribe((e) => events.push(e));
  hub.start();
  await new Promise((r) => setTimeout(r, 50)); // baseline poll
  state = 'paused';
  slow = true;
  const asked = Date.now();
  hub.poke();
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(release, 'the poll is waiting for its list');
  await new Promise((r) => setTimeout(r, 100)); // an action writes its state meanwhile
  const actionWrote = Date.now();
  (release as unknown as () => void)();
  await new Promise((r) => setTimeout(r, 20));
  await hub.stop();
  const suspended = events.find((e) => e.type === 'suspended');
  assert.ok(suspended, `a suspended event was synthesized: ${JSON.stringify(events)}`);
  assert.ok(suspended.at.getTime() <= asked + 15, `dated ${suspended.at.getTime() - asked} ms after the list was asked for`);
  assert.ok(suspended.at.getTime() < actionWrote, 'older than the write that happened while the list was on its way');
});
