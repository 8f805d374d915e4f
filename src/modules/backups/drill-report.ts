// Drill evidence: drill.json (machine-readable) and drill.md (for people), written to a folder.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DrillReport } from './drill.js';

export function drillMarkdown(r: DrillReport): string {
  const lines = [
    `# LIMEN restore drill — ${r.ok ? 'PASSED' : 'FAILED'}`,
    '',
    `- started: ${r.started_at}`,
    `- duration: ${(r.duration_ms / 1000).toFixed(1)} s`,
    `- backup: ${r.backup ? `${r.backup.file} (${r.backup.source}${r.backup.size ? `, ${r.backup.size} bytes` : ''}${r.backup.created_at ? `, created ${r.backup.created_at}` : ''})` : 'none'}`,
    `- scratch: ${r.scratch ? `${r.scratch.data_dir}, ${r.scratch.database}${r.scratch.url ? `, ${r.scratch.url}` : ''}` : 'not created'} (removed afterwards)`,
    '',
    '| step | result | ms | evidence |',
    '|---|---|---|---|',
    ...r.steps.map((s) => `| ${s.name} | ${s.status} | ${s.duration_ms} | ${JSON.stringify(s.evidence).replace(/\|/g, '\\|').slice(0, 400)} |`),
    '',
  ];
  return lines.join('\n');
}

export async function writeDrillEvidence(r: DrillReport, dir: string): Promise<{ json: string; md: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'drill.json');
  const md = join(dir, 'drill.md');
  await writeFile(json, JSON.stringify(r, null, 2) + '\n');
  await writeFile(md, drillMarkdown(r));
  return { json, md };
}
