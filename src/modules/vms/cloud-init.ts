// cloud-init NoCloud seed content (pure): meta-data names the instance and host, user-data is a
// #cloud-config with the hostname and the owner's SSH keys, merged with the user's own optional
// #cloud-config. The result is written as JSON after the "#cloud-config" line: JSON is YAML, so
// cloud-init reads it, and no YAML serializer can be tricked into emitting something else.
import { parse as parseYaml } from 'yaml';
import { validationFailed } from '../../platform/http/app-error.js';

export const USER_DATA_MAX_BYTES = 16 * 1024;

/** What a VM's seed says, fixed at create time (stored on the VM row as `cloud_init`). */
export interface CloudInitSpec {
  hostname: string;
  ssh_authorized_keys: string[];
  /** the user's own #cloud-config, already validated; null: none */
  user_data: string | null;
}

export interface SeedFiles {
  'meta-data': string;
  'user-data': string;
}

/** An RFC 1123 host label from a VM name ("Web Server #1" → "web-server-1"); fallback vm-<uuid8>. */
export function hostnameFor(name: string, uuid: string): string {
  const label = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '') // accents go, their letters stay
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return label || `vm-${uuid.slice(0, 8)}`;
}

/** Validates a user-supplied #cloud-config: size, header, YAML that is a mapping. Returns it unchanged. */
export function checkUserData(raw: string): string {
  if (Buffer.byteLength(raw, 'utf8') > USER_DATA_MAX_BYTES) throw validationFailed('user_data', `user_data must be at most ${USER_DATA_MAX_BYTES} bytes`);
  if (!/^#cloud-config[ \t]*\r?\n/.test(raw) && raw.trim() !== '#cloud-config') throw validationFailed('user_data', 'user_data must be a #cloud-config document (first line "#cloud-config")');
  let doc: unknown;
  try {
    doc = parseYaml(raw, { maxAliasCount: 50, uniqueKeys: true });
  } catch (e) {
    throw validationFailed('user_data', `user_data is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc !== null && (typeof doc !== 'object' || Array.isArray(doc))) throw validationFailed('user_data', 'user_data must be a YAML mapping');
  const keys = (doc as Record<string, unknown> | null)?.ssh_authorized_keys;
  if (keys !== undefined && (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))) {
    throw validationFailed('user_data', 'ssh_authorized_keys in user_data must be a list of strings');
  }
  return raw;
}

/** The two seed files for a VM (pure: same input, same bytes). */
export function buildSeedFiles(instanceId: string, spec: CloudInitSpec): SeedFiles {
  const own = spec.user_data ? ((parseYaml(spec.user_data) as Record<string, unknown> | null) ?? {}) : {};
  const ownKeys = Array.isArray(own.ssh_authorized_keys) ? (own.ssh_authorized_keys as string[]) : [];
  const config = {
    ...own,
    // LIMEN's facts win over the user's document: the name the VM has, the keys of the profile
    hostname: spec.hostname,
    preserve_hostname: false,
    ssh_authorized_keys: [...new Set([...spec.ssh_authorized_keys, ...ownKeys])],
  };
  const meta = { 'instance-id': instanceId, 'local-hostname': spec.hostname };
  return {
    'meta-data': `${JSON.stringify(meta, null, 2)}\n`,
    'user-data': `#cloud-config\n${JSON.stringify(config, null, 2)}\n`,
  };
}
