// `limen backup create|list|verify` (CONTRACT.md §5, docs/backup.md).
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { ARCHIVE_SUFFIX, defaultBackupDir, readManifest, verifyArchive } from '../modules/backups/index.js';
import { takeBackup } from '../modules/backups/local-backup.js';
import { readPassphrase } from '../modules/backups/passphrase.js';

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function parseKeep(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[1-9]\d{0,3}$/.test(v)) throw new Error('--keep must be a whole number from 1 to 9999');
  return Number(v);
}

export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('back up the database, VMs (definitions + disks), ISO list and configuration');

  backup
    .command('create')
    .description('write one archive (asks the running server to do it when it holds the embedded database)')
    .option('-o, --out <dir>', 'directory for the archive (default $LIMEN_DATA_DIR/backups)')
    .option('--with-isos', 'include the ISO images themselves (the list is always included)')
    .option('--keep <n>', 'afterwards keep only the newest N completed archives')
    .option('--with-secrets', 'include the data dir secrets, encrypted with a passphrase (scrypt + AES-256-GCM)')
    .option('--passphrase-file <file>', 'secrets passphrase: first line of FILE (default: asked on the terminal; never an argument)')
    .action(async (opts: { out?: string; withIsos?: boolean; keep?: string; withSecrets?: boolean; passphraseFile?: string }) => {
      const config = loadProcessConfig();
      const keep = parseKeep(opts.keep);
      if (opts.passphraseFile && !opts.withSecrets) throw new Error('--passphrase-file is for --with-secrets');
      const secretsPassphrase = opts.withSecrets ? await readPassphrase(opts.passphraseFile, { confirm: true }) : undefined;
      const tty = process.stderr.isTTY;
      const t0 = Date.now();
      const r = await takeBackup(config, {
        origin: 'cli',
        outDir: opts.out ? resolve(opts.out) : undefined,
        withIsos: opts.withIsos ?? false,
        keep,
        secretsPassphrase,
        onProgress: (p) => {
          // One rewritten line: step, bytes so far, average rate since the start.
          const s = (Date.now() - t0) / 1000;
          if (tty) process.stderr.write(`\r\x1b[2K${p.step} ${mib(p.bytes)}${s > 1 ? ` ${(p.bytes / 1e6 / s).toFixed(0)} MB/s` : ''}`);
        },
      });
      if (tty) process.stderr.write('\r\x1b[2K');
      console.log(`backup written: ${r.file}`);
      console.log(`${mib(r.size)}, ${r.vmCount} VM(s), ${(r.durationMs / 1000).toFixed(1)} s${r.via === 'server' ? ' (taken by the running server)' : ''}`);
    });

  backup
    .command('list')
    .description('archives in the backup directory, newest first')
    .option('-d, --dir <dir>', 'directory to list (default $LIMEN_DATA_DIR/backups)')
    .action(async (opts: { dir?: string }) => {
      const config = loadProcessConfig();
      const dir = opts.dir ? resolve(opts.dir) : defaultBackupDir(config);
      const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(ARCHIVE_SUFFIX)).sort().reverse();
      if (names.length === 0) {
        console.log(`no backups in ${dir}`);
        return;
      }
      for (const n of names) {
        const file = join(dir, n);
        try {
          const { manifest } = await readManifest(file);
          const size = manifest.files.reduce((s, f) => s + f.size, 0);
          console.log(`${file}  ${manifest.created_at}  ${manifest.database.kind}  ${manifest.vms.length} VM(s)  ${mib(size)}  LIMEN ${manifest.limen_version}`);
        } catch (err) {
          console.log(`${file}  UNREADABLE: ${(err as Error).message}`);
        }
      }
    });

  backup
    .command('verify')
    .description('check the manifest and every checksum; exits 1 when the archive is damaged')
    .argument('<file>')
    .action(async (file: string) => {
      const r = await verifyArchive(resolve(file));
      if (!r.ok) {
        console.error(`DAMAGED: ${r.file}`);
        for (const p of r.problems) console.error(`  - ${p}`);
        console.error('this archive must not be restored');
        process.exitCode = 1;
        return;
      }
      const m = r.manifest!;
      console.log(`OK: ${r.file}`);
      console.log(`  format ${m.format} v${m.format_version}, LIMEN ${m.limen_version}, created ${m.created_at}, ${m.database.kind} database`);
      console.log(`  ${m.files.length} files verified (${mib(r.size)}) in ${(r.durationMs / 1000).toFixed(1)} s; ${m.vms.length} VM(s), ${m.isos.length} ISO(s) listed`);
    });
}
