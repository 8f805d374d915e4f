export { createEventHub, type EventHub, type VmEventType, type RoutableVm } from './event-hub.js';
export { withClusterFanout, EVENTS_CHANNEL, type FanoutHub } from './event-fanout.js';
export { registerEventRoutes, originAllowed } from './events.routes.js';
