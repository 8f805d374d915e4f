// Helpers of the template suites: an OpenSSH ed25519 public key made with node:crypto, qemu-img
// inspection of a VM's disk, waiting for a template to be ready.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import type { App } from '../../src/app.js';
import type { TestUser } from '../helpers/factories.js';
import { waitFor } from '../vms/vm-helpers.js';

/** "ssh-ed25519 AAAA… comment" for a fresh key pair (the wire blob built by hand, as OpenSSH does). */
export function newSshPublicKey(comment = 'test@limen'): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const u32 = (n: number) => {
    const x = Buffer.alloc(4);
    x.writeUInt32BE(n, 0);
    return x;
  };
  const str = (b: Buffer) => Buffer.concat([u32(b.length), b]);
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

export interface ImageInfo {
  format: string;
  'virtual-size': number;
  'actual-size': number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
}

export function qemuImgInfo(path: string): ImageInfo {
  return JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', path], { encoding: 'utf8' })) as ImageInfo;
}

export interface TemplateJson {
  id: string;
  name: string;
  state: string;
  visibility: string;
  owner_id: string | null;
  min_disk_gb: number;
  virtual_size_bytes: number;
  cloud_init: boolean;
  [k: string]: unknown;
}

export function waitTemplateReady(app: App, u: TestUser, id: string, ms = 60_000): Promise<TemplateJson> {
  return waitFor(`template ${id} ready`, async () => {
    const r = await app.inject({ method: 'GET', url: `/api/templates/${id}`, headers: u.auth });
    if (r.statusCode !== 200) throw new Error(`template ${id}: ${r.statusCode} ${r.body}`);
    const t = r.json<TemplateJson>();
    return t.state === 'ready' ? t : undefined;
  }, ms);
}

export function waitTemplateGone(app: App, u: TestUser, id: string, ms = 60_000): Promise<true> {
  return waitFor(`template ${id} gone`, async () => (await app.inject({ method: 'GET', url: `/api/templates/${id}`, headers: u.auth })).statusCode === 404 || undefined, ms);
}
