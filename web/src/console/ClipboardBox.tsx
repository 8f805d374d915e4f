// Paste text into the guest: either into its clipboard (guests with VNC clipboard support) or as
// typed keystrokes (a GRUB prompt or text installer has no clipboard).
import { useState, type RefObject } from 'react';
import type RFB from '@novnc/novnc';
import { keysymFor } from './keysyms';

export function ClipboardBox({ rfb, disabled }: { rfb: RefObject<RFB | null>; disabled: boolean }) {
  const [text, setText] = useState('');
  const type = () => {
    const r = rfb.current;
    if (!r) return;
    for (const ch of text) {
      const sym = keysymFor(ch);
      r.sendKey(sym, null, true);
      r.sendKey(sym, null, false);
    }
    r.focus();
  };
  return (
    <details className="clipboard">
      <summary>Paste text into the machine</summary>
      <label htmlFor="console-clipboard">Text</label>
      <textarea id="console-clipboard" rows={3} value={text} onChange={(e) => setText(e.target.value)} />
      <div className="form-actions form-actions-start">
        <button type="button" className="btn" disabled={disabled || !text} onClick={type}>
          Type it
        </button>
        <button type="button" className="btn" disabled={disabled || !text} onClick={() => rfb.current?.clipboardPasteFrom(text)}>
          Send to guest clipboard
        </button>
      </div>
    </details>
  );
}
