// `limen restore FILE [--yes]` (CONTRACT.md §5, docs/backup.md): verify, stage, switch over.
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { libvirtDomainRestorer, requireValidArchive, restoreArchive } from '../modules/backups/index.js';
import { connectDriver, serverHoldingDataDir } from '../modules/backups/local-backup.js';
import { readPassphrase } from '../modules/backups/passphrase.js';

export function registerRestoreCommand(program: Command): void {
  program
    .command('restore')
    .description('restore an archive over this installation (stop the server first); verifies before touching anything')
    .argument('<file>')
    .option('-y, --yes', 'do not ask for confirmation (required when not on a terminal)')
    .option('--with-secrets', "restore the archive's encrypted secrets (default: keep this installation's own)")
    .option('--passphrase-file <file>', 'secrets passphrase: first line of FILE (default: asked on the terminal)')
    .action(async (file: string, opts: { yes?: boolean; withSecrets?: boolean; passphraseFile?: string }) => {
      const config = loadProcessConfig();
      const archive = resolve(file);
      const server = serverHoldingDataDir(config.dataDir);
      if (server) throw new Error(`a LIMEN server (pid ${server.pid}, ${server.url}) is running on ${config.dataDir}; stop it before restoring`);
      const { manifest } = await requireValidArchive(archive);
      if ((opts.withSecrets || opts.passphraseFile) && !manifest.options.with_secrets) throw new Error('this archive holds no secrets (it was made without --with-secrets)');
      const secretsPassphrase = opts.withSecrets || opts.passphraseFile ? await readPassphrase(opts.passphraseFile, { confirm: false }) : undefined;
      console.log(`verified ${archive}: ${manifest.database.kind} database, ${manifest.vms.length} VM(s), created ${manifest.created_at} by LIMEN ${manifest.limen_version}`);
      const target = config.databaseUrl ? 'the PostgreSQL database of DATABASE_URL' : `the embedded database in ${config.dataDir}/db`;
      if (!opts.yes) {
        if (!process.stdin.isTTY) throw new Error('refusing to restore without confirmation: pass --yes');
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        const answer = await rl.question(`This replaces ${target} and the VM disks in ${config.dataDir}/disks. Type "restore" to continue: `);
        rl.close();
        if (answer.trim() !== 'restore') throw new Error('restore cancelled');
      }
      // The simulated test:/// host lives inside one process: nothing to define there.
      const driver = config.libvirtUri.startsWith('test:') ? undefined : await connectDriver(config);
      try {
        const r = await restoreArchive({ file: archive, dataDir: config.dataDir, databaseUrl: config.databaseUrl, domains: driver ? libvirtDomainRestorer(driver) : undefined, secretsPassphrase });
        console.log(`restored in ${(r.durationMs / 1000).toFixed(1)} s (verify ${(r.verifyMs / 1000).toFixed(1)} s, staging ${(r.stageMs / 1000).toFixed(1)} s)`);
        if (r.secrets.action === 'restored') console.log(`secrets: restored from the archive (${manifest.secrets?.names.join(', ') ?? ''})`);
        else console.log(`secrets: kept this installation's own${r.secrets.inArchive ? ' (the archive has encrypted secrets: restore with --with-secrets to use them)' : ''}; tokens signed elsewhere are invalid here, users log in again`);
        if (!driver) console.log('libvirt: not reachable or simulated; VM domains were not defined (the VM module reports them as missing)');
        else console.log(`libvirt: ${r.domains.defined.length} domain(s) defined, ${r.domains.existing.length} already present`);
        for (const f of r.domains.failed) console.error(`  domain ${f.uuid} not defined: ${f.error}`);
        if (r.domains.failed.length > 0) process.exitCode = 1;
      } finally {
        await driver?.close().catch(() => undefined);
      }
    });
}
