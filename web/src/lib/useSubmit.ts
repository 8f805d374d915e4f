// One form action's pending and error state: every form in the UI shows "…ing" while its request
// runs and the server's error inline afterwards, so the bookkeeping lives here once.
import { useState, type FormEvent } from 'react';

export interface Submit {
  pending: boolean;
  error: unknown;
  submit: (e?: FormEvent) => Promise<void>;
}

/** `action` runs on submit; a throw becomes `error` (shown by InlineError), never an unhandled rejection. */
export function useSubmit(action: () => Promise<void>): Submit {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setPending(false);
    }
  };
  return { pending, error, submit };
}
