export { createSnapshotsService, type SnapshotsService, type SnapshotVmPort } from './snapshots.service.js';
export { registerSnapshotRoutes, toSnapshotDto } from './snapshots.routes.js';
