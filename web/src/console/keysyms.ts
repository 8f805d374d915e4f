// Text → X11 keysyms for "type this text into the guest". Needed because many guests (a GRUB
// prompt, a text installer) have no clipboard integration: pasting must become keystrokes.

const SPECIAL: Record<string, number> = { '\n': 0xff0d, '\r': 0xff0d, '\t': 0xff09, '\b': 0xff08 };

/** Latin-1 characters map to keysyms equal to their code point; others use the Unicode keysym range. */
export function keysymFor(ch: string): number {
  const special = SPECIAL[ch];
  if (special !== undefined) return special;
  const cp = ch.codePointAt(0) ?? 0;
  if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return cp;
  return 0x01000000 + cp;
}
