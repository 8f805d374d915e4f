export { registerSystemRoutes, type HypervisorHealth } from './system.routes.js';
