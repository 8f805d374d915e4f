export { createSnapshotsService, type SnapshotsService, type SnapshotVmPort, type Settled } from './snapshots.service.js';
export { registerSnapshotRoutes, toSnapshotDto } from './snapshots.routes.js';
export { listScheduledSnapshots, type SnapshotRecord } from './snapshots.repo.js';
