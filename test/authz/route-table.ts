// The reviewed access level of every route. A route the app serves that is missing here, or
// whose declared level differs, fails the authorization matrix: adding an endpoint means adding
// a line here, on purpose.
export type Access = 'public' | 'user' | 'admin' | 'webhook';

export const ROUTE_ACCESS: Record<string, Access> = {
  'GET /api/health': 'public',
  'GET /api/metrics': 'public',
  'GET /api/openapi.json': 'public',
  // /api/docs/* (Swagger UI's own static files) is forced public by the auth hook.

  'POST /api/auth/register': 'public',
  'POST /api/auth/login': 'public',
  'POST /api/auth/refresh': 'public',
  'POST /api/auth/logout': 'public',
  'POST /api/auth/logout-all': 'user',
  'GET /api/auth/me': 'user',

  'GET /api/admin/users': 'admin',
  'POST /api/admin/users': 'admin',
  'POST /api/admin/users/:id/approve': 'admin',
  'POST /api/admin/users/:id/reject': 'admin',
  'POST /api/admin/users/:id/disable': 'admin',
  'POST /api/admin/users/:id/enable': 'admin',
  'PATCH /api/admin/users/:id': 'admin',
  'DELETE /api/admin/users/:id': 'admin',
  'GET /api/admin/audit': 'admin',
  'GET /api/admin/backups': 'admin',
  'POST /api/admin/backups': 'admin',
  // The local CLI's door when a running server holds the data dir: operator token + loopback only.
  'POST /api/operator/backups': 'webhook',
  'GET /api/operator/backups/:id': 'webhook',

  'GET /ws/events': 'user',
  'GET /api/isos': 'user',
  'PUT /api/admin/isos/:name': 'admin',
  'DELETE /api/admin/isos/:id': 'admin',
  'GET /api/vms': 'user',
  'POST /api/vms': 'user',
  'GET /api/vms/:uuid': 'user',
  'PATCH /api/vms/:uuid': 'user',
  'DELETE /api/vms/:uuid': 'user',
  'POST /api/vms/:uuid/action': 'user',
  'GET /api/vms/:uuid/media': 'user',
  'POST /api/vms/:uuid/media': 'user',
  'GET /api/vms/:uuid/boot-order': 'user',
  'PUT /api/vms/:uuid/boot-order': 'user',
  'GET /api/vms/:uuid/stats': 'user',
  'GET /api/vms/:uuid/activity': 'user',
  'GET /api/admin/vms': 'admin',
  'POST /api/vms/batch': 'user',

  // templates: visibility and ownership are checked by the templates service (404 / 403)
  'GET /api/templates': 'user',
  'GET /api/templates/:id': 'user',
  'POST /api/templates': 'user',
  'POST /api/templates/import': 'user',
  'PATCH /api/templates/:id': 'user',
  'DELETE /api/templates/:id': 'user',
  'GET /api/me/ssh-keys': 'user',
  'POST /api/me/ssh-keys': 'user',
  'DELETE /api/me/ssh-keys/:id': 'user',

  'GET /api/quota': 'user',
  'GET /api/admin/users/:id/quota': 'admin',
  'PUT /api/admin/users/:id/quota': 'admin',
  'GET /api/admin/quota-defaults': 'admin',
  'PUT /api/admin/quota-defaults': 'admin',

  'GET /api/vms/:uuid/snapshots': 'user',
  'POST /api/vms/:uuid/snapshots': 'user',
  'POST /api/snapshots/:id/restore': 'user',
  'DELETE /api/snapshots/:id': 'user',

  'POST /api/vms/:uuid/console': 'user',
  // Authorized by its single-use ticket (checked in the handler, before any byte reaches VNC).
  'GET /ws/vnc/:uuid': 'public',
  'GET /api/admin/console-sessions': 'admin',
  'DELETE /api/admin/console-sessions/:id': 'admin',

  'GET /api/me/groups': 'user',
  'GET /api/admin/groups': 'admin',
  'POST /api/admin/groups': 'admin',
  'GET /api/admin/groups/:id': 'admin',
  'PATCH /api/admin/groups/:id': 'admin',
  'DELETE /api/admin/groups/:id': 'admin',
  'POST /api/admin/groups/:id/members': 'admin',
  'DELETE /api/admin/groups/:id/members/:userId': 'admin',
  'PUT /api/admin/groups/:id/quota': 'admin',
  'GET /api/admin/groups/:id/vms': 'admin',
  'POST /api/admin/groups/:id/actions': 'admin',
  'POST /api/admin/groups/:id/provision': 'admin',
  'GET /api/admin/groups/:id/provisions': 'admin',
  'GET /api/admin/group-provisions/:id': 'admin',

  'GET /api/vms/:uuid/snapshot-schedules': 'user',
  'POST /api/vms/:uuid/snapshot-schedules': 'user',
  'GET /api/admin/groups/:id/snapshot-schedules': 'admin',
  'POST /api/admin/groups/:id/snapshot-schedules': 'admin',
  'GET /api/snapshot-schedules/:id': 'user',
  'PATCH /api/snapshot-schedules/:id': 'user',
  'DELETE /api/snapshot-schedules/:id': 'user',
  'POST /api/snapshot-schedules/:id/run': 'user',

  'POST /api/alerts/webhook': 'webhook',
  'GET /api/alerts': 'admin',
};
