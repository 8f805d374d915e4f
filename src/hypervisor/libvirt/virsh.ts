// `virsh -c <uri>` for what @unraid/libvirt lacks (snapshots, stats, media, reboot/reset, vCPU and
// memory changes, agent queries, undefine flags). Always execFile with an argument array (never a
// shell), always under a timeout whose AbortSignal kills the child, stderr mapped to typed errors.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHypervisorError } from '../errors.js';
import { withTimeout } from '../timeout.js';

export interface VirshRunner {
  run(args: readonly string[], opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<string>;
}

export function createVirsh(uri: string, defaultTimeoutMs: number, binary = 'virsh'): VirshRunner {
  return {
    run(args, opts = {}) {
      const what = `virsh ${args[0] ?? ''}`;
      return withTimeout(
        what,
        opts.timeoutMs ?? defaultTimeoutMs,
        (signal) =>
          new Promise<string>((resolve, reject) => {
            execFile(
              binary,
              ['-q', '-c', uri, ...args],
              { signal, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
              (err, stdout, stderr) => {
                if (err) {
                  const msg = stderr.replace(/^error: /gm, '').trim() || err.message;
                  reject(toHypervisorError(new Error(msg), what));
                } else resolve(stdout);
              },
            );
          }),
        opts.signal,
      );
    },
  };
}

/** Runs fn with `content` in a private temporary file (virsh reads XML arguments from files). */
export async function withTempFile<T>(content: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'limen-virsh-'));
  try {
    const path = join(dir, 'input.xml');
    await writeFile(path, content, { mode: 0o600 });
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
