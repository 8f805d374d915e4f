// `limen isos add-demo`: puts real bootable images from Debian packages into the ISO library so a
// fresh install has something to boot — the GRUB rescue CD (grub-rescue-pc) and, when installed,
// the Debian netboot installer mini.iso (debian-installer-12-netboot-amd64). Registered straight
// in the database; with the embedded database that needs the server stopped (withCliDatabase says so).
import { createReadStream, existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadProcessConfig } from '../config/runtime.js';
import { findIsoByName } from '../modules/isos/isos.repo.js';
import { importIso } from '../modules/isos/index.js';
import { insertAudit } from '../modules/audit/audit.repo.js';
import { withCliDatabase } from './cli-database.js';

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
  isos
    .command('add-demo')
    .description('copy bootable demo images from installed Debian packages into the ISO library')
    .action(async () => {
      const config = loadProcessConfig();
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
