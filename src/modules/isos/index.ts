export { createIsosService, type IsosService } from './isos.service.js';
export { registerIsoRoutes, IsoDto, toIsoDto } from './isos.routes.js';
export { importIso, isoPathOf, ensureLibraryDir, checkIsoName, ISO_NAME_RE } from './iso-library.js';
export { findIso, listIsos, type IsoRecord } from './isos.repo.js';
