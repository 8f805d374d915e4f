// Boot order as a short list with move up / move down buttons (keyboard friendly, unlike drag and
// drop). Devices can be left out of the order with the checkbox.
import { useEffect, useState } from 'react';
import { vms } from '../../api/endpoints';
import { BOOT_DEVICES, type BootDevice, type Vm } from '../../api/types';
import { AsyncView, InlineError } from '../../components/AsyncStates';
import { useAsync } from '../../lib/useAsync';

const DEVICE_LABELS: Record<BootDevice, string> = { cdrom: 'CD-ROM', hd: 'Hard disk', network: 'Network (PXE)' };

export function BootOrderPanel({ vm }: { vm: Vm }) {
  const boot = useAsync(() => vms.bootOrder(vm.uuid), [vm.uuid]);
  return <AsyncView {...boot}>{(b) => <BootOrderEditor uuid={vm.uuid} initial={b.boot_order} />}</AsyncView>;
}

function BootOrderEditor({ uuid, initial }: { uuid: string; initial: BootDevice[] }) {
  const [order, setOrder] = useState<BootDevice[]>(initial);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [note, setNote] = useState('');
  useEffect(() => setOrder(initial), [initial]);

  const unused = BOOT_DEVICES.filter((d) => !order.includes(d));
  const move = (i: number, delta: number) =>
    setOrder((o) => {
      const next = o.slice();
      const [d] = next.splice(i, 1);
      if (d) next.splice(i + delta, 0, d);
      return next;
    });

  const save = async () => {
    setPending(true);
    setError(undefined);
    setNote('');
    try {
      const r = await vms.setBootOrder(uuid, order);
      setOrder(r.boot_order);
      setNote(r.applied === 'next_boot' ? 'Saved; applies at next boot.' : 'Applied.');
    } catch (e) {
      setError(e);
    } finally {
      setPending(false);
    }
  };

  return (
    <div>
      <ol className="boot-list">
        {order.map((d, i) => (
          <li key={d}>
            <span>{DEVICE_LABELS[d]}</span>
            <span className="btn-group">
              <button type="button" className="btn btn-small" aria-label={`Move ${DEVICE_LABELS[d]} up`} disabled={i === 0} onClick={() => move(i, -1)}>
                ↑
              </button>
              <button type="button" className="btn btn-small" aria-label={`Move ${DEVICE_LABELS[d]} down`} disabled={i === order.length - 1} onClick={() => move(i, 1)}>
                ↓
              </button>
              <button type="button" className="btn btn-small" aria-label={`Remove ${DEVICE_LABELS[d]} from boot order`} disabled={order.length === 1} onClick={() => setOrder((o) => o.filter((x) => x !== d))}>
                ×
              </button>
            </span>
          </li>
        ))}
      </ol>
      {unused.length > 0 && (
        <p className="hint">
          Not booted from:{' '}
          {unused.map((d) => (
            <button key={d} type="button" className="btn btn-small" onClick={() => setOrder((o) => [...o, d])}>
              + {DEVICE_LABELS[d]}
            </button>
          ))}
        </p>
      )}
      <InlineError error={error} />
      {note && <p className="notice notice-success" role="status">{note}</p>}
      <button type="button" className="btn btn-primary" disabled={pending} onClick={() => void save()}>
        {pending ? 'Saving…' : 'Save boot order'}
      </button>
    </div>
  );
}
