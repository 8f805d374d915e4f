export { createEventHub, type EventHub, type VmEventType, type RoutableVm } from './event-hub.js';
export { registerEventRoutes, originAllowed } from './events.routes.js';
