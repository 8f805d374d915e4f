// A VM's state as a coloured badge. Colour is never the only signal: the word is always shown.
import { TRANSITIONAL } from '../lib/vm-actions';

export function StateBadge({ state }: { state: string }) {
  return (
    <span className={`badge badge-state-${state}`} data-state={state}>
      {TRANSITIONAL.has(state) && <span className="spinner spinner-small" aria-hidden="true" />}
      {state}
    </span>
  );
}
