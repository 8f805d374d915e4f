// `limen drill [--backup FILE]` (CONTRACT.md §5, docs/backup.md): restore into scratch and prove it.
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { runDrill } from '../modules/backups/drill.js';
import { writeDrillEvidence } from '../modules/backups/drill-report.js';
import { takeBackup } from '../modules/backups/local-backup.js';

export function registerDrillCommand(program: Command): void {
  program
    .command('drill')
    .description('restore a fresh (or the given) backup into a scratch data dir + database, start a second LIMEN on it and verify it; never touches the live data')
    .option('-b, --backup <file>', 'drill this archive instead of taking a fresh backup')
    .option('-o, --out <dir>', 'evidence folder (default $LIMEN_DATA_DIR/drills/<time>)')
    .action(async (opts: { backup?: string; out?: string }) => {
      const config = loadProcessConfig();
      const report = await runDrill({
        config,
        backupFile: opts.backup ? resolve(opts.backup) : undefined,
        takeBackup: () => takeBackup(config, { origin: 'drill', drillAccount: true }),
      });
      const dir = opts.out ? resolve(opts.out) : join(config.dataDir, 'drills', report.started_at.replace(/[:.]/g, '-'));
      const files = await writeDrillEvidence(report, dir);
      for (const s of report.steps) {
        const why = s.status === 'PASS' ? '' : ` — ${JSON.stringify(s.evidence.error ?? s.evidence.reason ?? '')}`;
        console.log(`${s.status.padEnd(4)} ${s.name} (${s.duration_ms} ms)${why}`);
      }
      console.log(`drill ${report.ok ? 'PASSED' : 'FAILED'} in ${(report.duration_ms / 1000).toFixed(1)} s; evidence: ${files.md}, ${files.json}`);
      if (!report.ok) process.exitCode = 1;
    });
}
