export { createAuthService, validateNewCredentials, type AuthService, type PublicUser } from './auth.service.js';
export { registerAuthRoutes, REFRESH_COOKIE, CSRF_COOKIE } from './auth.routes.js';
export { registerAuthHook, principalOf, type RouteAccess } from './auth-hook.js';
export { bootstrapFirstAdmin, type BootstrapResult } from './bootstrap.js';
export { hashPassword } from './passwords.js';
export { invalidatePrincipals } from './principal-cache.js';
export { checkPassword, checkUsername, PASSWORD_PROBLEM_MESSAGES } from './password-policy.js';
export * as authRepo from './auth.repo.js';
export { toUser, type Role, type UserRecord, type UserStatus } from './auth.repo.js';
