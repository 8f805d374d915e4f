// @unraid/libvirt's async workers keep a raw pointer to the JS Domain wrapper they were given and
// no reference to it. When nothing in JS refers to that wrapper any more while the native call
// runs (`hv.domainCreate(await hv.domainLookupByUUIDString(u))` drops it at once), the garbage
// collector may finalize it mid-call; its finalizer frees the virDomainPtr under the running
// worker and the process dies with SIGSEGV in virDomainCreate. Seen under load: many clones
// started at once (long calls, much allocation) crashed the templates real test and the class
// bench. Every native call that takes a Domain runs through `usingDomain`, which holds the
// wrapper until that call has settled (also past our own timeout, which cannot cancel it).
import type { Domain } from '@unraid/libvirt';

const inUse = new Set<Domain>();

export async function usingDomain<T>(domain: Domain | Promise<Domain>, fn: (d: Domain) => Promise<T>): Promise<T> {
  const d = await domain;
  inUse.add(d);
  try {
    return await fn(d);
  } finally {
    inUse.delete(d);
  }
}

/** How many Domain wrappers native calls hold right now (tests). */
export const domainsInUse = (): number => inUse.size;
