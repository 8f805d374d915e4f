// Client-side hints for the registration password policy (CONTRACT.md §4). The server decides;
// this only tells the person what it will check while they type. Pure and import-free.

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 256;

// A handful of the most common passwords of the right length. The server ships the full list; this
// one exists so the most obvious choices are flagged before a round trip.
const OBVIOUS = new Set([
  '1234567890', '0123456789', '12345678910', 'qwertyuiop', 'password12', 'password123',
  'password1234', '1q2w3e4r5t', 'iloveyou12', 'qwerty1234', 'qwerty12345', '1111111111',
  'aaaaaaaaaa', 'abcdefghij', 'letmein123', 'welcome123', 'administrator', 'passw0rd12',
  'changeme123', 'football12', 'monkey1234', 'dragon1234', 'sunshine12', 'princess12',
]);

export interface PasswordRule { id: 'length' | 'not_username' | 'not_common'; label: string; ok: boolean }

export function checkPassword(password: string, username: string): PasswordRule[] {
  // Length counts characters (code points), as the server does, not UTF-16 units.
  const length = [...password].length;
  return [
    { id: 'length', label: `${PASSWORD_MIN}–${PASSWORD_MAX} characters (${length} so far)`, ok: length >= PASSWORD_MIN && length <= PASSWORD_MAX },
    { id: 'not_username', label: 'Not the same as your username', ok: password.length > 0 && password.toLowerCase() !== username.trim().toLowerCase() },
    { id: 'not_common', label: 'Not a commonly used password', ok: password.length > 0 && !OBVIOUS.has(password.toLowerCase()) },
  ];
}

export const USERNAME_PATTERN = /^[a-z0-9_.-]{3,32}$/i;
