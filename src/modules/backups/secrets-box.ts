// `--with-secrets`: the data dir's secrets/ folder (LIMEN_SECRET, alert webhook token, operator
// token, drill account…) sealed with a passphrase, so an archive that leaves the machine does not
// carry usable secrets unless its owner can also name the passphrase.
//
// scrypt (N=2^15, r=8, p=1: ~32 MiB and ~0.1 s per guess) derives a 256-bit key from the
// passphrase and a random salt; AES-256-GCM seals the folder's files with a random IV. The GCM tag
// makes a wrong passphrase (or a changed byte) fail to open — restore checks this before it
// touches anything. The header fields are the GCM additional data, so they cannot be swapped.
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SECRETS_ENTRY = 'secrets/secrets.enc';
const KDF = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

interface Sealed {
  format: 'limen-secrets';
  version: 1;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: 'aes-256-gcm';
  iv: string;
  tag: string;
  data: string;
}

export class SecretsPassphraseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsPassphraseError';
  }
}

const scrypt = (pass: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(pass.normalize('NFC'), salt, 32, o, (err, key) => (err ? reject(err) : resolve(key))));

const aad = (s: Pick<Sealed, 'format' | 'version' | 'kdf' | 'cipher'>): Buffer => Buffer.from(JSON.stringify([s.format, s.version, s.kdf, s.cipher]));

export function checkPassphrase(pass: string): void {
  if (pass.length < 8) throw new SecretsPassphraseError('the secrets passphrase must be at least 8 characters');
}

/** Reads every regular file of <dataDir>/secrets (flat folder) and seals them. */
export async function sealSecrets(dataDir: string, passphrase: string): Promise<{ sealed: Buffer; names: string[] }> {
  checkPassphrase(passphrase);
  const dir = join(dataDir, 'secrets');
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if ((await stat(join(dir, name))).isFile()) files[name] = (await readFile(join(dir, name))).toString('base64');
  }
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const head = { format: 'limen-secrets', version: 1, kdf: { name: 'scrypt', N: KDF.N, r: KDF.r, p: KDF.p, salt: salt.toString('base64') }, cipher: 'aes-256-gcm' } as const;
  const key = await scrypt(passphrase, salt, KDF);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad(head));
  const data = Buffer.concat([c.update(JSON.stringify(files)), c.final()]);
  const sealed: Sealed = { ...head, iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: data.toString('base64') };
  return { sealed: Buffer.from(JSON.stringify(sealed) + '\n'), names: Object.keys(files) };
}

/** Opens a sealed folder; a wrong passphrase or any change → SecretsPassphraseError. */
export async function openSecrets(sealed: Buffer, passphrase: string): Promise<Record<string, Buffer>> {
  let s: Sealed;
  try {
    s = JSON.parse(sealed.toString('utf8')) as Sealed;
  } catch {
    throw new SecretsPassphraseError('the sealed secrets are malformed');
  }
  if (s.format !== 'limen-secrets' || s.version !== 1 || s.cipher !== 'aes-256-gcm' || s.kdf?.name !== 'scrypt') throw new SecretsPassphraseError('unknown sealed-secrets format');
  // Bounds on the stored cost: a crafted archive must not make restore allocate gigabytes.
  if (s.kdf.N > 2 ** 20 || s.kdf.r > 16 || s.kdf.p > 4) throw new SecretsPassphraseError('sealed secrets ask for an unreasonable scrypt cost');
  const key = await scrypt(passphrase, Buffer.from(s.kdf.salt, 'base64'), { N: s.kdf.N, r: s.kdf.r, p: s.kdf.p, maxmem: 1024 * 1024 * 1024 });
  try {
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(s.iv, 'base64'));
    d.setAAD(aad(s));
    d.setAuthTag(Buffer.from(s.tag, 'base64'));
    const plain = Buffer.concat([d.update(Buffer.from(s.data, 'base64')), d.final()]);
    const files = JSON.parse(plain.toString('utf8')) as Record<string, string>;
    return Object.fromEntries(Object.entries(files).map(([n, b]) => [n, Buffer.from(b, 'base64')]));
  } catch {
    throw new SecretsPassphraseError('wrong passphrase for the secrets in this archive (or they were changed)');
  }
}

/** Writes opened secrets into a (new) folder, 0700 / 0600 like the server creates them. */
export async function writeSecretsDir(dir: string, files: Record<string, Buffer>): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  for (const [name, content] of Object.entries(files)) {
    if (name.includes('/') || name.startsWith('.')) throw new SecretsPassphraseError(`unsafe secret file name ${JSON.stringify(name)}`);
    await writeFile(join(dir, name), content, { mode: 0o600 });
  }
}
