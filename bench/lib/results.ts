// Shared by every bench: one entry per figure (CONTRACT.md §5) merged into
// bench/results/<date>.json, replacing earlier entries of the same name from the same day.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchEntry {
  name: string;
  value: number;
  unit: string;
  baseline: number | null;
  ratio: number | null;
  target: string | null;
  met: boolean | null;
}

export const RESULTS_DIR = join(fileURLToPath(new URL('..', import.meta.url)), 'results');

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export function mergeResults(entries: BenchEntry[], markdown?: { suffix: string; text: string }): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${today()}.json`);
  const existing: BenchEntry[] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BenchEntry[]) : [];
  const ours = new Set(entries.map((e) => e.name));
  writeFileSync(file, `${JSON.stringify([...existing.filter((e) => !ours.has(e.name)), ...entries], null, 2)}\n`);
  if (markdown) writeFileSync(join(RESULTS_DIR, `${today()}-${markdown.suffix}.md`), markdown.text);
  return file;
}

export const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits;
