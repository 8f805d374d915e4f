// Events across LIMEN instances: every publish is delivered to this instance's websocket clients
// at once and sent to the others with one NOTIFY on `limen_events`; each instance LISTENs on its
// cluster session and hands what others published to its own hub. The payload carries the
// publisher's instance id (the publisher skips its own notification, so no client sees an event
// twice) and the VM DTO itself (~0.5 KB; PostgreSQL caps a payload at 8000 bytes). A DTO too
// large for that (a long libvirt error message) travels as {uuid, owner_id} and receivers re-read
// the row. Delivery follows the commit: publishers publish after their transaction committed.
// Admin events travel the same way when the publisher asks (`publishAdmin(…, {cluster: true})`).
import type { ClusterSession } from '../../platform/db/cluster-session.js';
import type { EventHub, RoutableVm, VmEventType } from './event-hub.js';

export const EVENTS_CHANNEL = 'limen_events';
/** PostgreSQL's limit is 8000 bytes; keep a margin for the envelope. */
const MAX_PAYLOAD = 7_800;

interface Envelope {
  i: string;
  t?: VmEventType;
  vm?: RoutableVm;
  ref?: RoutableVm;
  /** an admin event (publishAdmin with cluster: true): its type and payload */
  a?: string;
  p?: object;
}

export interface FanoutHub extends EventHub {
  /** How a receiver re-reads a VM whose DTO did not fit a notification (the VM module sets it). */
  setVmLoader(fn: (uuid: string) => Promise<RoutableVm | undefined>): void;
}

export function withClusterFanout(local: EventHub, session: ClusterSession, log: { warn(obj: object, msg: string): void }): FanoutHub {
  let load: (uuid: string) => Promise<RoutableVm | undefined> = async () => undefined;
  if (!session.shared) return { ...local, setVmLoader: (fn) => void (load = fn) };

  const off = session.listen(EVENTS_CHANNEL, (payload) => {
    let msg: Envelope;
    try {
      msg = JSON.parse(payload) as Envelope;
    } catch {
      return;
    }
    if (msg.i === session.instanceId) return;
    // A payload that did not fit arrives as its type alone: `truncated` tells clients to refetch.
    if (msg.a) return local.publishAdmin(msg.a, msg.p ?? { truncated: true });
    const type = msg.t;
    if (!type) return;
    if (msg.vm) return local.publish(type, msg.vm);
    const ref = msg.ref;
    if (!ref) return;
    load(ref.uuid).then(
      (vm) => local.publish(type, vm ?? ref),
      (err: unknown) => log.warn({ err, vm: ref.uuid }, 'reloading a VM for a cluster event failed'),
    );
  });

  return {
    ...local,
    setVmLoader: (fn) => void (load = fn),
    publish(type, vm) {
      local.publish(type, vm);
      let payload = JSON.stringify({ i: session.instanceId, t: type, vm } satisfies Envelope);
      if (Buffer.byteLength(payload) > MAX_PAYLOAD) payload = JSON.stringify({ i: session.instanceId, t: type, ref: { uuid: vm.uuid, owner_id: vm.owner_id } } satisfies Envelope);
      session.notify(EVENTS_CHANNEL, payload).catch((err: unknown) => log.warn({ err, vm: vm.uuid }, 'cluster event notify failed (other instances resync on their next snapshot)'));
    },
    publishAdmin(type, payload, opts) {
      local.publishAdmin(type, payload);
      if (!opts?.cluster) return;
      let body = JSON.stringify({ i: session.instanceId, a: type, p: payload } satisfies Envelope);
      if (Buffer.byteLength(body) > MAX_PAYLOAD) body = JSON.stringify({ i: session.instanceId, a: type } satisfies Envelope);
      session.notify(EVENTS_CHANNEL, body).catch((err: unknown) => log.warn({ err, type }, 'cluster admin event notify failed'));
    },
    close() {
      off();
      local.close();
    },
  };
}
