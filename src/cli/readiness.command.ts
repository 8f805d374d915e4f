// `limen readiness [--out DIR]` (CONTRACT.md §5, §8): runs every readiness item, writes the report.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { runReadiness, writeReadiness } from '../modules/readiness/index.js';

export function registerReadinessCommand(program: Command): void {
  program
    .command('readiness')
    .description('run every release-readiness check for real (private LIMEN, Prometheus, Alertmanager, restore drill) and write readiness.md + readiness.json')
    .option('-o, --out <dir>', 'report folder', '.')
    .action(async (opts: { out: string }) => {
      const config = loadProcessConfig();
      const report = await runReadiness({
        config,
        onItem: (i) => console.log(`${i.status} ${i.title} (${i.duration_ms} ms)${i.status === 'FAIL' ? ` — ${JSON.stringify(i.evidence.error).slice(0, 300)}` : ''}`),
      });
      const files = await writeReadiness(report, resolve(opts.out));
      console.log(`${report.items.filter((i) => i.status === 'PASS').length}/${report.items.length} PASS; report: ${files.md}, ${files.json}`);
      if (!report.ok) process.exitCode = 1;
    });
}
