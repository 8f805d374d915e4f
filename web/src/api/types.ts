// Types of the LIMEN HTTP API, taken from openapi.gen.ts (generated from the server's route
// schemas by `npm run gen:api`; test/web/api-drift.test.ts keeps it current). Nothing here is
// written by hand except names for the shapes pages use, and the few routes that do not exist yet
// (hosts), which are marked NOT IN THE API.
import type { paths } from './openapi.gen';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;
/** The JSON body of the first 2xx response of `method path`. */
export type ResponseOf<P extends keyof paths, M extends Method> = paths[P][M] extends { responses: infer R }
  ? JsonOf<R extends { 200: infer A } ? A : R extends { 201: infer B } ? B : R extends { 202: infer C } ? C : never>
  : never;
/** The JSON request body of `method path`. */
export type BodyOf<P extends keyof paths, M extends Method> = paths[P][M] extends { requestBody?: infer B } ? JsonOf<NonNullable<B>> : never;
/** The query parameters of `method path`. */
export type QueryOf<P extends keyof paths, M extends Method> = paths[P][M] extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** Query strings are strings on the wire; pages hold numbers and empty filters, which withQuery() drops. */
type Loose<Q> = { [K in keyof Q]?: Q[K] | number | '' };

export interface List<T> { items: T[]; total: number }
type ItemOf<L> = L extends { items: (infer T)[] } ? T : never;

export type Health = ResponseOf<'/api/health', 'get'>;
export type TokenResponse = ResponseOf<'/api/auth/login', 'post'>;
export type SessionUser = TokenResponse['user'];
export type Role = SessionUser['role'];

export type AdminUser = ResponseOf<'/api/admin/users/{id}/approve', 'post'>;
export type UserStatus = AdminUser['status'];
export type UserFilter = Loose<QueryOf<'/api/admin/users', 'get'>>;

export type Quota = ResponseOf<'/api/quota', 'get'>;
export type UserQuota = ResponseOf<'/api/admin/users/{id}/quota', 'get'>;
export type QuotaDefaults = ResponseOf<'/api/admin/quota-defaults', 'get'>;
export type QuotaPatch = BodyOf<'/api/admin/quota-defaults', 'put'>;
export type UserQuotaPatch = BodyOf<'/api/admin/users/{id}/quota', 'put'>;

export type Vm = ResponseOf<'/api/vms/{uuid}', 'get'>;
export type VmState = Vm['state'];
export type VmAction = BodyOf<'/api/vms/{uuid}/action', 'post'>['action'];
export type VmCreate = BodyOf<'/api/vms', 'post'>;
export type VmPatch = BodyOf<'/api/vms/{uuid}', 'patch'>;
export type VmPatchResult = ResponseOf<'/api/vms/{uuid}', 'patch'>;
export type VmStats = ResponseOf<'/api/vms/{uuid}/stats', 'get'>;
export type VmMedia = ResponseOf<'/api/vms/{uuid}/media', 'get'>;
export type BootOrder = ResponseOf<'/api/vms/{uuid}/boot-order', 'get'>;
export type BootDevice = BootOrder['boot_order'][number];
export const BOOT_DEVICES: readonly BootDevice[] = ['cdrom', 'hd', 'network'];
export type AdminVmList = ResponseOf<'/api/admin/vms', 'get'>;

export type Snapshot = ResponseOf<'/api/snapshots/{id}/restore', 'post'>;
export type ConsoleTicket = ResponseOf<'/api/vms/{uuid}/console', 'post'>;
export type ConsoleSession = ItemOf<ResponseOf<'/api/admin/console-sessions', 'get'>>;
export type Iso = ResponseOf<'/api/admin/isos/{name}', 'put'>;
export type AuditEntry = ItemOf<ResponseOf<'/api/admin/audit', 'get'>>;
export type AuditQuery = Loose<QueryOf<'/api/admin/audit', 'get'>>;
export type Alert = ItemOf<ResponseOf<'/api/alerts', 'get'>>;
export type Backup = ResponseOf<'/api/admin/backups', 'post'>;

/** NOT IN THE API yet (multi-host issue): the shape CONTRACT.md §4 describes; the page shows "not available" on 404. */
export type Host = ItemOf<ResponseOf<'/api/admin/hosts', 'get'>>;

export type Group = ItemOf<ResponseOf<'/api/admin/groups', 'get'>>;
export type GroupDetail = ResponseOf<'/api/admin/groups/{id}', 'get'>;
export type GroupCreate = BodyOf<'/api/admin/groups', 'post'>;
export type GroupQuotaPatch = BodyOf<'/api/admin/groups/{id}/quota', 'put'>;
export type GroupBulkAction = BodyOf<'/api/admin/groups/{id}/actions', 'post'>['action'];
export type GroupBulkResult = ResponseOf<'/api/admin/groups/{id}/actions', 'post'>;
export type MyGroup = ItemOf<ResponseOf<'/api/me/groups', 'get'>>;
export type GroupProvision = ResponseOf<'/api/admin/group-provisions/{id}', 'get'>;
export type GroupProvisionRequest = BodyOf<'/api/admin/groups/{id}/provision', 'post'>;
export type Template = ItemOf<ResponseOf<'/api/templates', 'get'>>;
export type TemplateFromVm = BodyOf<'/api/templates', 'post'>;
export type SshKey = ItemOf<ResponseOf<'/api/me/ssh-keys', 'get'>>;
