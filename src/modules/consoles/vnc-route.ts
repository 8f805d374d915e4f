// How the console proxy reaches a VM's VNC server, decided from the libvirt URI of the VM's host
// (admin-defined, never user input) and the endpoint in the VM's live XML:
//   - local hosts (qemu:///system, qemu+unix://…, test:///…): a TCP connection to the endpoint;
//   - qemu+ssh:// hosts: VNC listens on the remote loopback, so the bytes go through OpenSSH
//     (`ssh -W <vnc host>:<port> … -- host`), authenticated exactly like libvirt's own connection
//     (same user, port, keyfile=, no_verify=);
//   - other remote transports (qemu+tls://, qemu+tcp://): only a VNC listen address on a
//     management network is reachable; a loopback one is refused with a message saying so.
// Pure (no I/O): unit-tested, including every way a URI part could smuggle an ssh option in.
import { isIP } from 'node:net';

export interface VncEndpoint {
  host: string;
  port: number;
  /** libvirt URI of the host the VM runs on (absent: a local host). */
  hostUri?: string;
}

export type VncRoute =
  | { kind: 'direct'; host: string; port: number }
  | { kind: 'ssh'; argv: string[]; destination: string }
  | { kind: 'refused'; message: string };

/** What the admin must set up for a console on a non-ssh remote host (docs/scaling.md). */
export const REMOTE_CONSOLE_NOT_CONFIGURED =
  'VNC of this host listens on its loopback; consoles on qemu+tls/tcp hosts need a VNC listen address on a management network';

// user names as useradd allows them; host names (RFC 1123 labels) or IP literals
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
// an absolute path made of ordinary characters (no spaces, quotes, control characters or '..')
const KEYFILE = /^\/[A-Za-z0-9._/+@=-]{1,1023}$/;

export class VncRouteError extends Error {}

const validHost = (h: string): boolean => isIP(h) !== 0 || HOSTNAME.test(h);
const isLoopback = (h: string): boolean => h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);

function validPort(p: string | number): number {
  const n = typeof p === 'number' ? p : /^\d{1,5}$/.test(p) ? Number(p) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new VncRouteError(`invalid port ${String(p)}`);
  return n;
}

/** The ssh options LIMEN always sets for a console tunnel (docs/security.md says why, one by one). */
export const SSH_TUNNEL_OPTIONS = [
  '-T', // no terminal: a byte pipe
  '-x', // no X11 forwarding
  '-a', // no agent forwarding
  '-o', 'BatchMode=yes', // never prompt (no terminal to answer): fail instead
  '-o', 'ConnectTimeout=15',
  '-o', 'ServerAliveInterval=15', // a vanished host ends the tunnel (and the session) within ~45 s
  '-o', 'ServerAliveCountMax=3',
  '-o', 'ExitOnForwardFailure=yes', // a refused -W ends ssh at once, so the UI hears about it
] as const;

/**
 * Builds the ssh argument vector for a qemu+ssh:// host. Every part comes from the host's URI or
 * the live domain XML and is validated; the destination follows `--`, so nothing can be read as
 * an option.
 */
export function sshTunnelArgv(uri: URL, target: { host: string; port: number }): { argv: string[]; destination: string } {
  const host = uri.hostname.startsWith('[') ? uri.hostname.slice(1, -1) : uri.hostname;
  if (!validHost(host)) throw new VncRouteError('invalid host name in the host URI');
  const user = decodeURIComponent(uri.username);
  if (user !== '' && !USER.test(user)) throw new VncRouteError('invalid user name in the host URI');
  if (!validHost(target.host)) throw new VncRouteError('invalid VNC listen address');
  const vncPort = validPort(target.port);
  const argv: string[] = [...SSH_TUNNEL_OPTIONS];
  if (uri.port !== '') argv.push('-p', String(validPort(uri.port)));
  if (user !== '') argv.push('-l', user);
  const keyfile = uri.searchParams.get('keyfile');
  if (keyfile !== null) {
    if (!KEYFILE.test(keyfile) || keyfile.split('/').includes('..')) throw new VncRouteError('keyfile must be an absolute path of ordinary characters');
    argv.push('-i', keyfile);
  }
  // libvirt: no_verify=1 → StrictHostKeyChecking=no (an unknown host key is accepted and recorded)
  if (uri.searchParams.get('no_verify') === '1') argv.push('-o', 'StrictHostKeyChecking=no');
  const vncHost = isIP(target.host) === 6 ? `[${target.host}]` : target.host;
  argv.push('-W', `${vncHost}:${vncPort}`, '--', host);
  return { argv, destination: `${user === '' ? '' : `${user}@`}${host}${uri.port === '' ? '' : `:${uri.port}`}` };
}

/** Decides how to reach the endpoint (see the file comment). Throws VncRouteError on a malformed URI. */
export function vncRoute(endpoint: VncEndpoint): VncRoute {
  const direct: VncRoute = { kind: 'direct', host: endpoint.host, port: endpoint.port };
  if (endpoint.hostUri === undefined) return direct;
  let uri: URL;
  try {
    uri = new URL(endpoint.hostUri);
  } catch {
    throw new VncRouteError('host URI does not parse');
  }
  const transport = uri.protocol.replace(/:$/, '').split('+')[1] ?? '';
  if (transport === 'ssh') return { kind: 'ssh', ...sshTunnelArgv(uri, endpoint) };
  // no hostname: a daemon on this machine (local or unix socket transport)
  const host = uri.hostname.replace(/^\[|\]$/g, '');
  if (transport === '' || transport === 'unix' || host === '' || isLoopback(host)) return direct;
  if (isLoopback(endpoint.host)) return { kind: 'refused', message: REMOTE_CONSOLE_NOT_CONFIGURED };
  return direct;
}

/**
 * Why consoles could not use a host URI (its ssh parts do not validate), or null. Checked when a
 * host is added, so a URI the console tunnel would refuse never gets in.
 */
export function consoleUriProblem(hostUri: string): string | null {
  try {
    vncRoute({ host: '127.0.0.1', port: 5900, hostUri });
    return null;
  } catch (err) {
    if (err instanceof VncRouteError) return err.message;
    throw err;
  }
}
