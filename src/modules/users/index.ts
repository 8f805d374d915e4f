export { registerUserAdminRoutes, AdminUser, toAdminUser } from './users.routes.js';
export { createUsersService, type UsersService } from './users.service.js';
