// `npm run bench`: runs every bench/<area>/*.bench.ts, one after another (benches measure the
// machine, so never in parallel), each in its own Node process. Arguments filter by path
// substring: `npm run bench -- console`. Exits non-zero when any bench fails to run.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const benchDir = join(root, 'bench');
const filters = process.argv.slice(2);

const files = readdirSync(benchDir)
  .filter((d) => d !== 'results' && statSync(join(benchDir, d)).isDirectory())
  .flatMap((d) =>
    readdirSync(join(benchDir, d))
      .filter((f) => f.endsWith('.bench.ts'))
      .map((f) => join(benchDir, d, f)),
  )
  // Matched against the path under bench/ (a checkout at /work/wt-backup must not match every bench).
  .filter((f) => filters.length === 0 || filters.some((q) => relative(benchDir, f).includes(q)))
  .sort();

if (files.length === 0) {
  console.error(`no bench matches ${filters.join(' ') || 'bench/*/*.bench.ts'}`);
  process.exit(1);
}

const failed: string[] = [];
for (const f of files) {
  const name = relative(root, f);
  console.log(`\n=== ${name}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', f], { cwd: root, stdio: 'inherit' });
  console.log(`=== ${name}: ${r.status === 0 ? 'done' : `FAILED (${r.status ?? r.signal})`} in ${Math.round((Date.now() - t0) / 1000)} s`);
  if (r.status !== 0) failed.push(name);
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
