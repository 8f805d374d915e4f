// The CLI side of the operator API: when a running server holds the data dir, `limen backup`
// and `limen drill` ask it to take the backup (over loopback, operator token) and follow progress.
import type { Config } from '../../config/config.js';
import { readOperatorToken } from './local-secrets.js';
import type { toApiBackup } from './backups.service.js';

export type ApiBackup = ReturnType<typeof toApiBackup>;

export interface RemoteBackupRequest {
  withIsos?: boolean;
  outDir?: string;
  keep?: number;
  drillAccount?: boolean;
  origin?: 'cli' | 'drill';
  /** travels only over loopback to the server that holds the data dir, never in argv or logs */
  secretsPassphrase?: string;
}

export async function backupThroughServer(
  config: Config,
  serverUrl: string,
  req: RemoteBackupRequest,
  onProgress?: (b: ApiBackup) => void,
  timeoutMs = 6 * 60 * 60_000,
): Promise<ApiBackup> {
  const token = readOperatorToken(config.dataDir);
  if (!token) throw new Error(`the running server has not written ${config.dataDir}/secrets/operator-token yet; is it an older LIMEN?`);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const res = await fetch(`${serverUrl}/api/operator/backups`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ with_isos: req.withIsos, out_dir: req.outDir, keep: req.keep, drill_account: req.drillAccount, origin: req.origin, secrets_passphrase: req.secretsPassphrase }),
    signal: AbortSignal.timeout(60_000),
  });
  if (res.status !== 202) throw new Error(`the server refused the backup: ${res.status} ${await res.text()}`);
  let b = (await res.json()) as ApiBackup;
  const deadline = Date.now() + timeoutMs;
  while (b.status === 'running') {
    if (Date.now() > deadline) throw new Error(`backup ${b.id} still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
    const r = await fetch(`${serverUrl}/api/operator/backups/${b.id}`, { headers: { authorization: headers.authorization }, signal: AbortSignal.timeout(10_000) });
    if (!r.ok) throw new Error(`cannot follow backup ${b.id}: ${r.status} ${await r.text()}`);
    b = (await r.json()) as ApiBackup;
    onProgress?.(b);
  }
  if (b.status !== 'completed' || !b.file) throw new Error(`backup ${b.id} ${b.status}: ${b.error ?? 'no archive'}`);
  return b;
}
