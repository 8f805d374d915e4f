// Public surface of the hypervisor layer: the port, its errors, and the libvirt adapter factory.
export * from './hypervisor.js';
export * from './errors.js';
export { withTimeout, delay } from './timeout.js';
export { createDiskImages, parseImageInfo, type DiskImages, type DiskImagesOptions, type DiskInfo } from './disk-images.js';
export { createLibvirtDriver, type LibvirtDriverOptions } from './libvirt/libvirt-driver.js';
export { buildDomainXml, parseDomainXml, type ParsedDomain, type ParsedDisk } from './libvirt/domain-xml.js';
export { createSeedIsos, SEED_VOLUME_ID, type SeedIsos } from './seed-isos.js';
