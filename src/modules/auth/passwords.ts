// argon2id hashing in PHC strings (the parameters travel with each hash, so they can be raised
// later without breaking old hashes). OWASP's argon2id baseline: 19 MiB, t=2, p=1.
import { hash, verify } from '@node-rs/argon2';

const PARAMS = { algorithm: 2 /* Algorithm.Argon2id (an ambient const enum) */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, PARAMS);
}

// Verifying against this when the user does not exist costs the same as a real check, so the
// response time does not tell whether a username exists.
let dummyHash: Promise<string> | undefined;

export async function verifyPassword(phc: string | undefined, password: string): Promise<boolean> {
  if (phc === undefined) {
    dummyHash ??= hashPassword('limen-dummy-password-never-matches');
    await verify(await dummyHash, password).catch(() => false);
    return false;
  }
  try {
    return await verify(phc, password);
  } catch {
    return false;
  }
}
