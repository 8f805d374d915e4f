// Template base images in a backup: each base once (however many linked clones back onto it),
// restored read-only under <data dir>/templates/, and every restored linked-clone overlay pointed
// at the restored base (`qemu-img rebase -u`: only the header's backing path changes), so a
// restore into another data dir (the drill's scratch space) never reads the source's bases.
import { execFile } from 'node:child_process';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/db.js';
import { queryOne, queryRows } from '../../platform/db/query.js';
import { parseImageInfo } from '../../hypervisor/index.js';
import type { Manifest } from './manifest.js';
import type { BackupSource } from './source.js';

export const TEMPLATES_DIR = 'templates';

/** Ready templates' base images (none when the templates table does not exist in this database). */
export function templateBaseSource(db: Db): BackupSource {
  return {
    name: 'templates',
    async write(sink) {
      const t = await queryOne<{ present: boolean }>(db, sql`select to_regclass('public.vm_templates') is not null as present`);
      if (!t?.present) return;
      const rows = await queryRows<{ id: string; name: string; base_path: string }>(db, sql`select id::text as id, name, base_path from vm_templates where state = 'ready' order by created_at, id`);
      sink.draft.templates = [];
      for (const r of rows) {
        let size: number;
        try {
          size = (await stat(r.base_path)).size;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw err;
        }
        sink.progress('template', { id: r.id, name: r.name });
        // bases are read-only (0444): no clone writes them, so a plain copy is consistent
        const entry = `${TEMPLATES_DIR}/${basename(r.base_path)}`;
        await sink.addFile(entry, 'template-base', r.base_path, size);
        sink.draft.templates.push({ id: r.id, name: r.name, path: entry, original_path: r.base_path, size });
      }
    },
  };
}

const qemuImg = (args: string[]): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile('qemu-img', args, { encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' }, (err, out, stderr) => (err ? reject(new Error(`qemu-img ${args[0]}: ${stderr.trim() || err.message}`)) : resolve(out)));
  });

/** Extracts every base into `stagedDir` (= the future <data dir>/templates), read-only. */
export async function stageTemplateBases(manifest: Manifest, stagedDir: string, extract: (entry: string, target: string) => Promise<void>): Promise<void> {
  await mkdir(stagedDir, { recursive: true, mode: 0o711 });
  await chmod(stagedDir, 0o711);
  for (const t of manifest.templates ?? []) {
    const target = join(stagedDir, basename(t.path));
    await extract(t.path, target);
    await chmod(target, 0o444);
  }
}

/**
 * Points each staged overlay whose backing file is one of the archive's bases at that base's
 * restored path under `dataDir`. Unsafe mode (-u): the base is not opened, only the header
 * changes; the base content is the same file the overlay was made on.
 */
export async function rebaseOverlays(manifest: Manifest, dataDir: string, stagedDisks: string[]): Promise<number> {
  const bases = new Map((manifest.templates ?? []).map((t) => [t.original_path, join(dataDir, TEMPLATES_DIR, basename(t.path))]));
  if (bases.size === 0) return 0;
  let n = 0;
  for (const disk of stagedDisks) {
    if (!disk.endsWith('.qcow2')) continue;
    const info = parseImageInfo(await qemuImg(['info', '-U', '--output=json', disk]));
    const target = info.backingFile ? bases.get(info.backingFile) : undefined;
    if (!target || target === info.backingFile) continue;
    await qemuImg(['rebase', '-u', '-f', 'qcow2', '-b', target, '-F', 'qcow2', disk]);
    n++;
  }
  return n;
}
