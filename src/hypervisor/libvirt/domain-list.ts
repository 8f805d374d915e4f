// Turning libvirt's domain list into summaries. Both the state poll and the reconciler read it,
// and both treat a domain absent from it as gone (an `undefined` event, a row marked missing), so
// the list is either complete or an error, never partial.

import type { Domain } from '@unraid/libvirt';
import type { DomainSummary } from '../hypervisor.js';
import { toHypervisorError } from '../errors.js';
import { stateFromNumber } from './qemu-ops.js';

export type ListedDomain = Pick<Domain, 'getName' | 'getUUIDString' | 'getInfo'>;

/**
 * Looks up each listed domain. One undefined between the list and its lookup (not_found) is
 * really gone and skipped; any other failure fails the whole list. Before, every error was taken
 * for "gone": a list in flight while libvirtd stopped came back without the running VMs (the
 * lookups failed with "Cannot recv data") and they were marked missing.
 */
export async function summarizeDomains(domains: readonly ListedDomain[]): Promise<DomainSummary[]> {
  const out: DomainSummary[] = [];
  for (const d of domains) {
    try {
      const [name, uuid, info] = await Promise.all([d.getName(), d.getUUIDString(), d.getInfo()]);
      out.push({ uuid: uuid.toLowerCase(), name, state: stateFromNumber(info.state) });
    } catch (e) {
      const err = toHypervisorError(e, 'describe a listed domain');
      if (err.kind !== 'not_found') throw err;
    }
  }
  return out;
}
