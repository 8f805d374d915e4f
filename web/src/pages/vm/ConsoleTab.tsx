import { Link } from 'react-router-dom';
import type { Vm } from '../../api/types';
import { NoVncConsole } from '../../console/NoVncConsole';

// The same console as /console/{uuid}, embedded. Keyed by state so a VM that stops and starts
// again gets a fresh connection, not a stale retry loop.
export function ConsoleTab({ vm }: { vm: Vm }) {
  const running = vm.state === 'running' || vm.state === 'paused';
  return (
    <>
      <p className="hint">
        <Link to={`/console/${vm.uuid}`} target="_blank" rel="noopener">
          Open the console in its own window
        </Link>
      </p>
      <NoVncConsole key={running ? 'on' : 'off'} uuid={vm.uuid} running={running} />
    </>
  );
}
