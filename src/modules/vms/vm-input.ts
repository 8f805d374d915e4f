// Validation of user input for VMs (pure). Names are any Unicode a person types (quotes, <, &,
// emoji …) — they are escaped wherever they go — but bounded, free of control characters and
// well-formed; sizes are integers inside the configured bounds.
import type { VmSizeBounds } from '../../config/config.js';
import type { BootDevice } from '../../hypervisor/index.js';
import { validationFailed } from '../../platform/http/app-error.js';

export const VM_NAME_MAX = 64;

/** The stored form of a VM name (NFC, trimmed); throws VALIDATION_FAILED for unusable names. */
export function normalizeVmName(raw: string): string {
  // \p{Cs}: a lone surrogate (a paired one is a single code point under the u flag)
  if (/\p{Cs}/u.test(raw)) throw validationFailed('name', 'name is not valid Unicode');
  const name = raw.normalize('NFC').trim();
  const length = [...name].length;
  if (length === 0) throw validationFailed('name', 'name must not be empty');
  if (length > VM_NAME_MAX) throw validationFailed('name', `name must be at most ${VM_NAME_MAX} characters`);
  if (/[\p{Cc}\p{Zl}\p{Zp}]/u.test(name)) throw validationFailed('name', 'name must not contain control characters or line breaks');
  return name;
}

type SizeField = 'vcpus' | 'memory_mb' | 'disk_gb';

export function checkSize(field: SizeField, value: number, bounds: VmSizeBounds): number {
  const b = field === 'vcpus' ? bounds.vcpus : field === 'memory_mb' ? bounds.memoryMb : bounds.diskGb;
  if (!Number.isSafeInteger(value)) throw validationFailed(field, `${field} must be an integer`);
  if (value < b.min || value > b.max) throw validationFailed(field, `${field} must be between ${b.min} and ${b.max}`);
  return value;
}

const BOOT_DEVICES: readonly BootDevice[] = ['cdrom', 'hd', 'network'];

export function checkBootOrder(order: readonly string[]): BootDevice[] {
  if (order.length === 0 || order.length > BOOT_DEVICES.length) throw validationFailed('boot_order', 'boot_order needs 1 to 3 devices');
  if (new Set(order).size !== order.length) throw validationFailed('boot_order', 'boot_order must not repeat a device');
  for (const d of order) if (!BOOT_DEVICES.includes(d as BootDevice)) throw validationFailed('boot_order', `unknown boot device ${d}`);
  return order as BootDevice[];
}
