// LIMEN's configuration: read from the environment once (CONTRACT.md §2), validated, then passed
// in explicitly. Nothing else in src/ reads process.env (house rule 4).
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';

export type VmAccel = 'auto' | 'kvm' | 'tcg';

export interface VmSizeBounds {
  vcpus: { min: number; max: number };
  memoryMb: { min: number; max: number };
  diskGb: { min: number; max: number };
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** undefined → embedded PGlite in `${dataDir}/db`. */
  databaseUrl: string | undefined;
  libvirtUri: string;
  /** How the default libvirt URI was chosen, for the log line at start. */
  libvirtUriSource: 'env' | 'default-root' | 'default-user' | 'no-qemu';
  vmAccel: VmAccel;
  adminUser: string;
  /** Only used on first start; undefined → generated. */
  adminPassword: string | undefined;
  secret: string;
  alertWebhookToken: string;
  isoDir: string;
  /** Largest ISO an admin may upload (LIMEN_ISO_MAX_BYTES, default 8 GiB). */
  isoMaxUploadBytes: number;
  /** Public origins allowed for websockets and CSRF checks (LIMEN_PUBLIC_ORIGIN, comma separated). */
  publicOrigins: string[];
  /** Peers whose X-Forwarded-* headers are trusted (LIMEN_TRUSTED_PROXIES, comma separated IPs). */
  trustedProxies: string[];
  logLevel: string;
  /** Bearer token required for /api/metrics when set (LIMEN_METRICS_TOKEN). */
  metricsToken: string | undefined;
  vmBounds: VmSizeBounds;
  /** Admins skip their own quota (LIMEN_ADMIN_QUOTA_EXEMPT=true); default: held to it. */
  adminQuotaExempt: boolean;
  /** Host overcommit ratios for the capacity guard (LIMEN_CPU_OVERCOMMIT, LIMEN_MEMORY_OVERCOMMIT). */
  cpuOvercommit: number;
  memoryOvercommit: number;
  /** Which host gets a new VM (LIMEN_PLACEMENT_POLICY): most-free (default) or first-fit. */
  placementPolicy: 'most-free' | 'first-fit';
  console: ConsoleLimits;
  version: string;
  commit: string;
}

export interface ConsoleLimits {
  /** Concurrent console sessions per user (LIMEN_CONSOLE_MAX_PER_USER). */
  maxPerUser: number;
  /** Concurrent console sessions per instance (LIMEN_CONSOLE_MAX_TOTAL). */
  maxTotal: number;
  /** Close after this long without input from the browser (LIMEN_CONSOLE_IDLE_TIMEOUT_S). */
  idleTimeoutS: number;
  /** Close after this long in any case (LIMEN_CONSOLE_MAX_DURATION_S). */
  maxDurationS: number;
  /** Ticket lifetime, at most 60 s (LIMEN_CONSOLE_TICKET_TTL_S). */
  ticketTtlS: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export interface LoadConfigOptions {
  env?: Env;
  /** Whether this process runs as root (drives the LIBVIRT_URI default). */
  isRoot?: boolean;
  /** Whether QEMU is installed (drives the test:///default fallback). */
  qemuAvailable?: boolean;
  version?: string;
  commit?: string;
}

/** Reads VAR, or the file named by VAR_FILE (trailing newline trimmed). */
function readValue(env: Env, name: string): string | undefined {
  const fileVar = `${name}_FILE`;
  const file = env[fileVar];
  if (file !== undefined && file !== '') {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(fileVar, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

function parseIntStrict(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function parseList(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * A secret from the environment, or one generated on first start and persisted (0600) in the
 * data dir so every later start and every instance sharing the dir agrees on it.
 */
function persistentSecret(env: Env, name: string, dataDir: string, fileName: string): string {
  const given = readValue(env, name);
  if (given !== undefined) {
    if (given.length < 16) throw new ConfigError(name, 'must be at least 16 characters');
    return given;
  }
  const file = join(dataDir, 'secrets', fileName);
  if (existsSync(file)) {
    const v = readFileSync(file, 'utf8').trim();
    if (v.length >= 16) {
      chmodSync(file, 0o600);
      return v;
    }
  }
  mkdirSync(join(dataDir, 'secrets'), { recursive: true, mode: 0o700 });
  const v = randomBytes(32).toString('base64url');
  writeFileSync(file, v + '\n', { mode: 0o600 });
  return v;
}

function ensureWritableDir(name: string, dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new ConfigError(name, `data directory ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

const ORIGIN_RE = /^https?:\/\/[^/\s]+$/;
const USERNAME_RE = /^[a-z0-9_.-]{3,32}$/;

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? {};
  const port = parseIntStrict('PORT', readValue(env, 'PORT') ?? '18443', 0, 65535);
  const host = readValue(env, 'HOST') ?? '127.0.0.1';
  if (!/^[\w.:-]+$/.test(host)) throw new ConfigError('HOST', `not a valid address: "${host}"`);

  const dataDir = resolve(readValue(env, 'LIMEN_DATA_DIR') ?? './data');
  ensureWritableDir('LIMEN_DATA_DIR', dataDir);

  const databaseUrl = readValue(env, 'DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must start with postgres:// or postgresql://');
  }

  let libvirtUri = readValue(env, 'LIBVIRT_URI');
  let libvirtUriSource: Config['libvirtUriSource'] = 'env';
  if (libvirtUri === undefined) {
    if (opts.qemuAvailable === false) {
      libvirtUri = 'test:///default';
      libvirtUriSource = 'no-qemu';
    } else if (opts.isRoot ?? false) {
      libvirtUri = 'qemu:///system';
      libvirtUriSource = 'default-root';
    } else {
      libvirtUri = 'qemu:///session';
      libvirtUriSource = 'default-user';
    }
  } else if (!/^[a-z][a-z0-9+]*:\/\/[^\s]*$/.test(libvirtUri)) {
    throw new ConfigError('LIBVIRT_URI', `not a libvirt URI: "${libvirtUri}"`);
  }

  const accelRaw = readValue(env, 'LIMEN_VM_ACCEL') ?? 'auto';
  if (accelRaw !== 'auto' && accelRaw !== 'kvm' && accelRaw !== 'tcg') {
    throw new ConfigError('LIMEN_VM_ACCEL', `must be auto, kvm or tcg, got "${accelRaw}"`);
  }

  const placementPolicy = readValue(env, 'LIMEN_PLACEMENT_POLICY') ?? 'most-free';
  if (placementPolicy !== 'most-free' && placementPolicy !== 'first-fit') {
    throw new ConfigError('LIMEN_PLACEMENT_POLICY', `must be most-free or first-fit, got "${placementPolicy}"`);
  }

  const adminUser = (readValue(env, 'LIMEN_ADMIN_USER') ?? 'admin').toLowerCase();
  if (!USERNAME_RE.test(adminUser)) {
    throw new ConfigError('LIMEN_ADMIN_USER', 'must be 3-32 characters of a-z, 0-9, _ . -');
  }
  const adminPassword = readValue(env, 'LIMEN_ADMIN_PASSWORD');
  if (adminPassword !== undefined && (adminPassword.length < 10 || adminPassword.length > 256)) {
    throw new ConfigError('LIMEN_ADMIN_PASSWORD', 'must be 10-256 characters');
  }

  const publicOrigins = parseList(readValue(env, 'LIMEN_PUBLIC_ORIGIN'));
  for (const o of publicOrigins) {
    if (!ORIGIN_RE.test(o)) throw new ConfigError('LIMEN_PUBLIC_ORIGIN', `not an origin: "${o}"`);
  }
  const trustedProxies = parseList(readValue(env, 'LIMEN_TRUSTED_PROXIES'));

  const bound = (name: string, def: string): number => parseIntStrict(name, readValue(env, name) ?? def, 1, 1_000_000);
  const vmBounds: VmSizeBounds = {
    vcpus: { min: 1, max: bound('LIMEN_VM_MAX_VCPUS', '32') },
    memoryMb: { min: bound('LIMEN_VM_MIN_MEMORY_MB', '64'), max: bound('LIMEN_VM_MAX_MEMORY_MB', '262144') },
    diskGb: { min: 1, max: bound('LIMEN_VM_MAX_DISK_GB', '4096') },
  };

  const ratio = (name: string, def: string): number => {
    const raw = readValue(env, name) ?? def;
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || n <= 0 || n > 100) throw new ConfigError(name, `must be a positive number up to 100, got "${raw}"`);
    return n;
  };
  const bool = (name: string): boolean => {
    const raw = (readValue(env, name) ?? 'false').toLowerCase();
    if (raw !== 'true' && raw !== 'false') throw new ConfigError(name, `must be true or false, got "${raw}"`);
    return raw === 'true';
  };

  return {
    port,
    host,
    dataDir,
    databaseUrl,
    libvirtUri,
    libvirtUriSource,
    vmAccel: accelRaw,
    adminUser,
    adminPassword,
    secret: persistentSecret(env, 'LIMEN_SECRET', dataDir, 'limen-secret'),
    alertWebhookToken: persistentSecret(env, 'LIMEN_ALERT_WEBHOOK_TOKEN', dataDir, 'alert-webhook-token'),
    isoDir: resolve(readValue(env, 'LIMEN_ISO_DIR') ?? join(dataDir, 'isos')),
    isoMaxUploadBytes: parseIntStrict('LIMEN_ISO_MAX_BYTES', readValue(env, 'LIMEN_ISO_MAX_BYTES') ?? String(8 * 1024 ** 3), 1, Number.MAX_SAFE_INTEGER),
    publicOrigins,
    trustedProxies,
    logLevel: readValue(env, 'LOG_LEVEL') ?? 'info',
    metricsToken: readValue(env, 'LIMEN_METRICS_TOKEN'),
    vmBounds,
    adminQuotaExempt: bool('LIMEN_ADMIN_QUOTA_EXEMPT'),
    cpuOvercommit: ratio('LIMEN_CPU_OVERCOMMIT', '4'),
    console: {
      maxPerUser: parseIntStrict('LIMEN_CONSOLE_MAX_PER_USER', readValue(env, 'LIMEN_CONSOLE_MAX_PER_USER') ?? '4', 1, 1000),
      maxTotal: parseIntStrict('LIMEN_CONSOLE_MAX_TOTAL', readValue(env, 'LIMEN_CONSOLE_MAX_TOTAL') ?? '200', 1, 100_000),
      idleTimeoutS: parseIntStrict('LIMEN_CONSOLE_IDLE_TIMEOUT_S', readValue(env, 'LIMEN_CONSOLE_IDLE_TIMEOUT_S') ?? '1800', 1, 604_800),
      maxDurationS: parseIntStrict('LIMEN_CONSOLE_MAX_DURATION_S', readValue(env, 'LIMEN_CONSOLE_MAX_DURATION_S') ?? '28800', 1, 2_592_000),
      ticketTtlS: parseIntStrict('LIMEN_CONSOLE_TICKET_TTL_S', readValue(env, 'LIMEN_CONSOLE_TICKET_TTL_S') ?? '30', 1, 60),
    },
    memoryOvercommit: ratio('LIMEN_MEMORY_OVERCOMMIT', '1.5'),
    placementPolicy,
    version: opts.version ?? '0.0.0',
    commit: opts.commit ?? 'unknown',
  };
}
