// The size choices offered when creating or resizing a VM, and which of them the quota allows.
// Pure and import-free apart from the quota math (tested in test/web/).
// '.js' because lib/ is also imported by the node tests in test/web/ (NodeNext resolution).
import { fits, type Quota, type QuotaKey } from './quota.js';

export type SizeKey = 'vcpus' | 'memory_mb' | 'disk_gb';

// Within the contract's default bounds (vcpus 1–32, memory 64–262144 MiB, disk 1–4096 GB).
export const SIZE_PRESETS: Record<SizeKey, readonly number[]> = {
  vcpus: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32],
  // 64 and 96 MiB are for tiny guests (a GRUB rescue CD, a test kernel), the smallest the server accepts.
  memory_mb: [64, 96, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144],
  disk_gb: [1, 2, 5, 10, 20, 40, 80, 160, 320, 640, 1024, 2048, 4096],
};

export const SIZE_DEFAULTS: Record<SizeKey, number> = { vcpus: 1, memory_mb: 1024, disk_gb: 10 };

export interface SizeOption { value: number; allowed: boolean }

/**
 * Options for `key`, each marked allowed when it fits what the quota still has. `current` is the
 * VM's present value when resizing: only the increase over it counts against the quota.
 */
export function sizeOptions(q: Quota | undefined, key: SizeKey, current = 0): SizeOption[] {
  return SIZE_PRESETS[key].map((value) => ({
    value,
    allowed: q === undefined || value <= current || fits(q, key as QuotaKey, value - current),
  }));
}

/** The preferred default if allowed, else the largest allowed value below it, else the smallest option. */
export function defaultSize(options: SizeOption[], preferred: number): number {
  const allowed = options.filter((o) => o.allowed);
  const atOrBelow = allowed.filter((o) => o.value <= preferred);
  return atOrBelow.at(-1)?.value ?? allowed[0]?.value ?? options[0]?.value ?? preferred;
}
