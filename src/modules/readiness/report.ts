// readiness.json (CONTRACT.md §5 shape, plus when/where) and readiness.md.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReadinessReport } from './readiness.js';

export function readinessMarkdown(r: ReadinessReport): string {
  const pass = r.items.filter((i) => i.status === 'PASS').length;
  return [
    `# LIMEN release readiness — ${pass}/${r.items.length} PASS`,
    '',
    `Generated ${r.generated_at} by \`limen readiness\` in ${(r.duration_ms / 1000).toFixed(1)} s against a private instance` +
      (r.instance ? ` (${r.instance.url}, libvirt ${r.instance.libvirt}, LIMEN ${r.instance.version}).` : ' (which did not start).'),
    '',
    '| # | item | result | ms |',
    '|---|---|---|---|',
    ...r.items.map((i, n) => `| ${n + 1} | ${i.title} | **${i.status}** | ${i.duration_ms} |`),
    '',
    '## Evidence',
    '',
    ...r.items.flatMap((i) => [`### ${i.title} — ${i.status}`, '', '```json', JSON.stringify(i.evidence, null, 2).slice(0, 6000), '```', '']),
  ].join('\n');
}

export async function writeReadiness(r: ReadinessReport, dir: string): Promise<{ json: string; md: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'readiness.json');
  const md = join(dir, 'readiness.md');
  await writeFile(json, JSON.stringify(r, null, 2) + '\n');
  await writeFile(md, readinessMarkdown(r));
  return { json, md };
}
