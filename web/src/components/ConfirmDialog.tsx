// "Are you sure?" for destructive actions, with the consequence spelled out and the action's own
// pending and error state (the dialog stays open on failure so the message is seen).
import { useState } from 'react';
import { Modal } from './Modal';
import { InlineError } from './AsyncStates';

interface ConfirmProps {
  title: string;
  message: string;
  confirmLabel: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
  open: boolean;
}

export function ConfirmDialog({ title, message, confirmLabel, onConfirm, onClose, open }: ConfirmProps) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const confirm = async () => {
    setPending(true);
    setError(undefined);
    try {
      await onConfirm();
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setPending(false);
    }
  };
  return (
    <Modal title={title} open={open} onClose={onClose}>
      <p>{message}</p>
      <InlineError error={error} />
      <div className="form-actions">
        <button type="button" className="btn" onClick={onClose} disabled={pending}>
          Cancel
        </button>
        <button type="button" className="btn btn-danger" onClick={() => void confirm()} disabled={pending} autoFocus>
          {pending ? 'Working…' : confirmLabel}
        </button>
      </div>
    </Modal>
  );
}
