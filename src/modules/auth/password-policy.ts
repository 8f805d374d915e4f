// The password policy (NIST SP 800-63B style: length and a blocklist, no composition rules).
// Pure, so the API and the web UI enforce exactly the same rules.
import { isCommonPassword } from './common-passwords.js';

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 256;
export const USERNAME_PATTERN = '^[a-zA-Z0-9_.-]{3,32}$';

export type PasswordProblem = 'too_short' | 'too_long' | 'same_as_username' | 'common';

export function checkPassword(password: string, username: string): PasswordProblem | undefined {
  // Length counts characters a person typed (code points), not UTF-16 units.
  const length = [...password].length;
  if (length < PASSWORD_MIN) return 'too_short';
  if (length > PASSWORD_MAX) return 'too_long';
  if (password.toLowerCase() === username.toLowerCase()) return 'same_as_username';
  if (isCommonPassword(password)) return 'common';
  return undefined;
}

export const PASSWORD_PROBLEM_MESSAGES: Record<PasswordProblem, string> = {
  too_short: `Password must be at least ${PASSWORD_MIN} characters`,
  too_long: `Password must be at most ${PASSWORD_MAX} characters`,
  same_as_username: 'Password must not be the username',
  common: 'Password is too common; choose a less predictable one',
};

export function checkUsername(username: string): string | undefined {
  if (!new RegExp(USERNAME_PATTERN).test(username)) {
    return 'Username must be 3-32 characters of a-z, 0-9, _ . -';
  }
  return undefined;
}
