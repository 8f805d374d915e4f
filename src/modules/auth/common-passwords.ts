// A shipped list of passwords attackers try first (NIST SP 800-63B: refuse known-compromised
// values). Only entries of 10+ characters matter since shorter ones fail the length rule; the
// check is case-insensitive. Shared with the web UI so both say the same thing.
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set([
  '1234567890', '0123456789', '12345678910', '123456789a', 'a123456789', '1234567890a', '0987654321',
  '1111111111', '0000000000', '1q2w3e4r5t', '1q2w3e4r5t6y', 'q1w2e3r4t5', 'qwertyuiop', 'qwertyuiop1',
  'asdfghjkl1', 'zxcvbnm123', 'qwerty1234', 'qwerty12345', 'qwerty123456', '1qaz2wsx3edc', 'zaq12wsxcde3',
  'password12', 'password123', 'password1234', 'password12345', 'password!1', 'passw0rd123', 'p@ssw0rd123',
  'p@ssword123', 'password01', 'passwordpassword', 'iloveyou12', 'iloveyou123', 'princess123', 'sunshine123',
  'football123', 'baseball123', 'basketball', 'basketball1', 'superman123', 'batman1234', 'starwars123',
  'pokemon123', 'welcome123', 'welcome1234', 'letmein123', 'letmein1234', 'administrator', 'admin12345',
  'admin123456', 'administrator1', 'changeme123', 'changeme1234', 'trustno1234', 'monkey12345', 'dragon12345',
  'michael123', 'jennifer123', 'jordan2323', 'chocolate1', 'butterfly1', 'computer123', 'internet123',
  'whatever123', 'qazwsxedc123', 'qazwsxedcrfv', 'asdfghjkl;', '!qaz2wsx#edc', 'abc1234567', 'abcdefghij',
  'abcdefg123', 'abcd123456', 'aaaaaaaaaa', 'secret1234', 'secret12345', 'mypassword', 'mypassword1',
  'mypassword123', 'thisismypassword', 'correcthorsebatterystaple', 'limenlimen', 'limen12345',
  'limenpassword', 'virtualmachine', 'spring2024!', 'summer2024!', 'winter2024!', 'autumn2024!',
  'spring2025!', 'summer2025!', 'winter2025!', 'spring2026!', 'summer2026!', 'winter2026!',
  'password2024', 'password2025', 'password2026', 'welcome2024', 'welcome2025', 'welcome2026',
  'q1w2e3r4t5y6', '123qweasdzxc', '1234qwerasdf', 'qweasdzxc123', 'test123456', 'testtest123',
  'default123', 'guest12345', 'master12345', 'shadow12345', 'killer1234', 'soccer12345', 'hockey1234',
]);

export function isCommonPassword(password: string): boolean {
  return COMMON_PASSWORDS.has(password.toLowerCase());
}
