import type { Vm } from '../../api/types';
import { NoVncConsole } from '../../console/NoVncConsole';

// Keyed by state so a VM that stops and starts again gets a fresh connection, not a stale retry loop.
export function ConsoleTab({ vm }: { vm: Vm }) {
  const running = vm.state === 'running' || vm.state === 'paused';
  return <NoVncConsole key={running ? 'on' : 'off'} uuid={vm.uuid} running={running} />;
}
