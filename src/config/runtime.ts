// Facts about the running process that shape the defaults: who we are, what is installed, which
// build this is. Kept here so the rest of src/ never touches process.env or probes the system.
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from './config.js';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function readCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

export function qemuInstalled(): boolean {
  return ['/usr/bin/qemu-system-x86_64', '/usr/libexec/qemu-kvm', '/usr/bin/qemu-kvm'].some((p) => existsSync(p));
}

/** loadConfig() over this process's environment. */
export function loadProcessConfig(): Config {
  return loadConfig({
    env: process.env,
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    qemuAvailable: qemuInstalled(),
    version: readVersion(),
    commit: process.env.LIMEN_COMMIT ?? readCommit(),
  });
}

export { projectRoot };

// Settings a helper process must not inherit: a scratch LIMEN or pg_dump gets exactly the
// LIMEN/database settings its caller passes, never the parent's (which point at live data).
const OWN_SETTINGS = /^(LIMEN_.*|DATABASE_URL.*|PORT|HOST|LIBVIRT_URI|PG[A-Z]+)$/;

/** Environment for a child process (pg_dump, a scratch LIMEN): PATH, HOME… plus `extra`. */
export function childProcessEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!OWN_SETTINGS.test(k)) env[k] = v;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}
