// `limen isos add-demo`: puts real bootable images from Debian packages into the ISO library so a
// fresh install has something to boot — the GRUB rescue CD (grub-rescue-pc) and, when installed,
// the Debian netboot installer mini.iso (debian-installer-12-netboot-amd64). When a running server
// holds the embedded database, uploaded through its admin API (PUT /api/admin/isos/{name}, signed
// in like `limen vms`); otherwise registered straight in the database.
import { createReadStream, existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { findIsoByName } from '../modules/isos/isos.repo.js';
import { importIso } from '../modules/isos/index.js';
import { insertAudit } from '../modules/audit/audit.repo.js';
import { withCliDatabase } from './cli-database.js';
import { apiWhenServerHoldsDatabase, cliFail, refusal, withApiOptions, type ApiOptions } from './instance-client.js';

export const DEMO_ISOS: { name: string; paths: string[]; pkg: string }[] = [
  { name: 'grub-rescue.iso', paths: ['/usr/lib/grub-rescue/grub-rescue-cdrom.iso'], pkg: 'grub-rescue-pc' },
  {
    name: 'debian-12-netboot-mini.iso',
    paths: ['/usr/lib/debian-installer/images/12/amd64/text/mini.iso', '/usr/lib/debian-installer/images/12/amd64/gtk/mini.iso'],
    pkg: 'debian-installer-12-netboot-amd64',
  },
];

export function registerIsosCommands(program: Command): void {
  const isos = program.command('isos').description('manage the ISO library');
  withApiOptions(isos.command('add-demo'))
    .description('copy bootable demo images from installed Debian packages into the ISO library')
    .action(async (o: ApiOptions) => {
      const config = loadProcessConfig();
      const api = await apiWhenServerHoldsDatabase(config, o);
      if (api) {
        const have = new Set((await api.call<{ items: { name: string }[] }>('GET', '/api/isos')).body.items?.map((i) => i.name));
        for (const demo of DEMO_ISOS) {
          const source = demo.paths.find((p) => existsSync(p));
          if (!source) console.log(`skipped ${demo.name}: package ${demo.pkg} is not installed`);
          else if (have.has(demo.name)) console.log(`already in the library: ${demo.name}`);
          else {
            const r = await api.upload<{ name: string; size_bytes: number; sha256: string }>(`/api/admin/isos/${encodeURIComponent(demo.name)}`, source);
            if (r.status !== 201) cliFail(refusal(r));
            console.log(`added ${r.body.name} (${r.body.size_bytes} bytes, sha256 ${r.body.sha256})`);
          }
        }
        return;
      }
      await withCliDatabase(config, async ({ db }) => {
        for (const demo of DEMO_ISOS) {
          const source = demo.paths.find((p) => existsSync(p));
          if (!source) {
            console.log(`skipped ${demo.name}: package ${demo.pkg} is not installed`);
            continue;
          }
          if (await findIsoByName(db, demo.name)) {
            console.log(`already in the library: ${demo.name}`);
            continue;
          }
          const iso = await importIso(db, config.isoDir, demo.name, createReadStream(source), config.isoMaxUploadBytes);
          await insertAudit(db, { actorId: null, actorUsername: 'cli', action: 'iso.upload', targetType: 'iso', targetId: iso.id, result: 'success', details: { name: iso.name, source, sha256: iso.sha256 }, requestId: null, ip: null });
          console.log(`added ${iso.name} (${iso.sizeBytes} bytes, sha256 ${iso.sha256})`);
        }
      });
    });
}
