export { registerWebUi } from './web.routes.js';
