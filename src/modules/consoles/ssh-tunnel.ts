// One `ssh -W` child per console session (docs/scaling.md: measured against a shared
// ControlMaster and chosen for isolation: a session's tunnel is its own process, ended with it).
// spawn() with an argument vector (vnc-route.ts builds and validates it): no shell ever parses it.
// The child's stdout/stdin carry the RFB bytes; stderr is kept (bounded) for the server log only.
// Every session close path ends here: `destroy()` sends SIGTERM, then SIGKILL after a grace
// period, and `exited` resolves only when the process is really gone.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

const STDERR_KEEP_BYTES = 4096;
const KILL_GRACE_MS = 2000;

export interface TunnelExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The tail of ssh's own messages (host key, auth, "connect failed"…): for the log, not the user. */
  stderr: string;
}

export interface SshTunnel {
  pid: number | undefined;
  output: Readable;
  input: Writable;
  destroy(): void;
  exited: Promise<TunnelExit>;
}

export function openSshTunnel(argv: readonly string[], sshBinary = 'ssh'): SshTunnel {
  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(sshBinary, argv, {
    // not detached: a signal to LIMEN's process group (Ctrl-C, a service manager's stop) reaches
    // the tunnels too. If LIMEN itself dies, ssh sees EOF on its stdin and ends once QEMU closes.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr = (stderr + s).slice(-STDERR_KEEP_BYTES);
  });
  let gone = false;
  const exited = new Promise<TunnelExit>((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      gone = true;
      resolve({ code, signal, stderr: stderr.trim() });
    };
    child.once('exit', done);
    // spawn failed (no ssh binary): 'exit' never comes
    child.once('error', (err) => {
      stderr += `\n${err.message}`;
      if (child.pid === undefined) done(null, null);
    });
  });
  let killTimer: NodeJS.Timeout | undefined;
  void exited.then(() => clearTimeout(killTimer));
  return {
    pid: child.pid,
    output: child.stdout,
    input: child.stdin,
    exited,
    destroy() {
      if (gone || killTimer) return;
      child.stdin.destroy();
      child.kill('SIGTERM');
      killTimer = setTimeout(() => {
        if (!gone) child.kill('SIGKILL');
      }, KILL_GRACE_MS);
      killTimer.unref();
    },
  };
}
