export { createConsolesService, type ConsolesService, type ConsoleVmAccess } from './consoles.service.js';
export { registerConsoleRoutes, originAllowed } from './consoles.routes.js';
export { CLOSE as CONSOLE_CLOSE } from './close-codes.js';
export { consoleUriProblem } from './vnc-route.js';
