// OpenSSH public keys as users paste them ("<type> <base64> [comment]"), validated for real: a
// known key type, base64 that decodes, and a blob whose own first field names the same type (a
// truncated or hand-edited key fails here, not silently in the guest's authorized_keys).
import { createHash } from 'node:crypto';
import { validationFailed } from '../../platform/http/app-error.js';

export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;

export interface ParsedSshKey {
  type: string;
  /** "<type> <base64>": what goes into authorized_keys */
  key: string;
  comment: string;
  /** SHA256:<base64, no padding>, as `ssh-keygen -lf` prints it */
  fingerprint: string;
}

const MAX_KEY_CHARS = 16384;

/** Reads the first SSH wire-format string of a key blob (uint32 length + bytes). */
function firstString(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return null;
  return blob.subarray(4, 4 + len).toString('latin1');
}

export function parseSshPublicKey(raw: string): ParsedSshKey {
  const fail = (msg: string) => validationFailed('public_key', msg);
  if (typeof raw !== 'string' || raw.length > MAX_KEY_CHARS) throw fail('public_key is too long');
  const line = raw.trim();
  if (/[\r\n\0]/.test(line)) throw fail('public_key must be a single line');
  const m = /^(\S+)\s+([A-Za-z0-9+/]+={0,3})(?:\s+(.*))?$/.exec(line);
  if (!m) throw fail('public_key must look like "<type> <base64> [comment]"');
  const [, type = '', b64 = '', comment = ''] = m;
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type)) throw fail(`unsupported key type ${type.slice(0, 40)}; use one of ${SSH_KEY_TYPES.join(', ')}`);
  const blob = Buffer.from(b64, 'base64');
  // Buffer.from ignores junk; re-encoding must give the same text back
  if (blob.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) throw fail('public_key data is not valid base64');
  if (firstString(blob) !== type) throw fail('public_key data does not match its type');
  if (blob.length < 32) throw fail('public_key data is too short');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(comment)) throw fail('public_key comment must not contain control characters');
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  return { type, key: `${type} ${blob.toString('base64')}`, comment: comment.trim(), fingerprint };
}
