// A modal built on <dialog>: the browser provides focus trapping, Escape to close and the
// backdrop, which is most of what makes a modal accessible.
import { useEffect, useRef, type ReactNode } from 'react';

interface ModalProps { title: string; open: boolean; onClose: () => void; children: ReactNode; wide?: boolean }

export function Modal({ title, open, onClose, children, wide }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} className={wide ? 'modal modal-wide' : 'modal'} aria-labelledby="modal-title" onClose={onClose} onCancel={onClose}>
      {open && (
        <>
          <header className="modal-header">
            <h2 id="modal-title">{title}</h2>
            <button type="button" className="btn-icon" aria-label="Close" onClick={onClose}>
              ×
            </button>
          </header>
          <div className="modal-body">{children}</div>
        </>
      )}
    </dialog>
  );
}
