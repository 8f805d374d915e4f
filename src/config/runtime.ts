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
