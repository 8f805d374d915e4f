// What the ssh console tests look at from outside LIMEN's code: this process's ssh children
// (read from /proc, so a leaked tunnel cannot hide) and the channels the test sshd forwarded.
import { readFileSync, readdirSync } from 'node:fs';

export interface SshChild {
  pid: number;
  args: string[];
}

/** Live (not zombie) `ssh` processes whose parent is this test process. */
export function sshChildren(parent = process.pid): SshChild[] {
  const out: SshChild[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat);
      if (!m || m[1] !== 'ssh' || m[2] === 'Z' || Number(m[3]) !== parent) continue;
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1);
      out.push({ pid: Number(entry), args });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Target ports of every direct-tcpip channel (`ssh -W`) the test sshd opened, in order (LogLevel DEBUG1). */
export function sshdForwardTargets(log: string): number[] {
  return [...log.matchAll(/server_request_direct_tcpip: originator \S+ port \d+, target \S+ port (\d+)/g)].map((m) => Number(m[1]));
}
