// /console/{uuid}: the machine's screen on a page of its own (a second window next to the app, or
// a link to share with yourself). Live VM state from /ws/events starts and stops the console.
import { useCallback } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useVmEvents } from '../api/events';
import { vms } from '../api/endpoints';
import { AsyncView } from '../components/AsyncStates';
import { StateBadge } from '../components/StateBadge';
import { NoVncConsole } from '../console/NoVncConsole';
import { useAsync } from '../lib/useAsync';
import { applyVmEventToOne } from '../lib/vm-events';

export function ConsolePage() {
  const { uuid = '' } = useParams();
  const vm = useAsync(() => vms.get(uuid), [uuid]);
  const { setData, reload } = vm;
  useVmEvents(
    useCallback(
      (ev) => {
        if (ev.type === 'resync') return reload();
        setData((cur) => applyVmEventToOne(cur ?? null, ev) ?? cur);
      },
      [reload, setData],
    ),
  );
  return (
    <main className="console-page">
      <AsyncView {...vm}>
        {(v) => (
          <>
            <header className="console-page-header">
              <h1>Console of {v.name}</h1>
              <StateBadge state={v.state} />
              <Link to={`/vms/${v.uuid}`}>Manage this machine</Link>
            </header>
            <NoVncConsole uuid={v.uuid} running={v.state === 'running' || v.state === 'paused'} />
          </>
        )}
      </AsyncView>
    </main>
  );
}
