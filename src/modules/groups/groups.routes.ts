// /api/admin/groups* (admins: groups, members, group quota, the group's VMs and bulk actions) and
// /api/me/groups (a member's own groups). HTTP only: the services hold the rules.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../auth/index.js';
import { notFound } from '../../platform/http/app-error.js';
import type { SnapshotsService } from '../snapshots/index.js';
import { toVmDto, VmDto } from '../vms/index.js';
import { BULK_ACTIONS, runBulkAction, type BulkAction } from './group-bulk.js';
import { GROUP_QUOTA_KEYS, type GroupLimits } from './group-quota.js';
import type { GroupRecord, MemberRecord } from './groups.repo.js';
import type { GroupsService } from './groups.service.js';
import { toProvisionDto, type GroupProvisioner, type ProvisionInput } from './group-provision.js';
import { listProvisionIds } from './provisions.repo.js';
import type { AppContext } from '../../app.js';

const Uuid = Type.String({ format: 'uuid' });
const security = [{ bearer: [] }];
const tags = ['groups'];
const MAX = 1_000_000_000;

const keyed = <T>(schema: () => T) => Object.fromEntries(GROUP_QUOTA_KEYS.map((k) => [k, schema()]));
const Limit = () => Type.Union([Type.Integer({ minimum: 0, maximum: MAX }), Type.Null()]);
export const GroupLimitsT = Type.Object(keyed(Limit));
const GroupUsageT = Type.Object(keyed(() => Type.Integer()));
const QuotaPatch = Type.Object(Object.fromEntries(GROUP_QUOTA_KEYS.map((k) => [k, Type.Optional(Limit())])), { additionalProperties: false });

export const Group = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Type.String(),
  quota: GroupLimitsT,
  member_count: Type.Integer(),
  vm_count: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
const Member = Type.Object({ user_id: Uuid, username: Type.String(), status: Type.String(), added_at: Type.String({ format: 'date-time' }) });
const GroupDetail = Type.Object({ ...Group.properties, usage: GroupUsageT, members: Type.Array(Member) });
const MyGroup = Type.Object({ id: Uuid, name: Type.String(), description: Type.String(), member_count: Type.Integer(), created_at: Type.String({ format: 'date-time' }) });

const BulkItemT = Type.Object({
  vm_uuid: Uuid,
  name: Type.String(),
  owner_id: Uuid,
  result: Type.Union([Type.Literal('accepted'), Type.Literal('failed')]),
  state: Type.Optional(Type.String()),
  snapshot_id: Type.Optional(Uuid),
  error_code: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});

export const toGroupDto = (g: GroupRecord) => ({
  id: g.id,
  name: g.name,
  description: g.description,
  quota: g.quota,
  member_count: g.memberCount,
  vm_count: g.vmCount,
  created_at: g.createdAt.toISOString(),
  updated_at: g.updatedAt.toISOString(),
});
const toMemberDto = (m: MemberRecord) => ({ user_id: m.userId, username: m.username, status: m.status, added_at: m.addedAt.toISOString() });

const ProvisionItemT = Type.Object({
  user_id: Uuid,
  username: Type.String(),
  vm_uuid: Type.Union([Uuid, Type.Null()]),
  vm_name: Type.String(),
  state: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  error: Type.Union([Type.String(), Type.Null()]),
});
export const Provision = Type.Object({
  id: Uuid,
  group_id: Uuid,
  template_id: Type.Union([Uuid, Type.Null()]),
  name_prefix: Type.String(),
  state: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('partial'), Type.Literal('failed')]),
  total: Type.Integer(),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  pending: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  items: Type.Array(ProvisionItemT),
});
const ProvisionBody = Type.Object(
  {
    template: Uuid,
    name_prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    clone_mode: Type.Optional(Type.Union([Type.Literal('linked'), Type.Literal('full')])),
    start: Type.Optional(Type.Boolean()),
    vcpus: Type.Optional(Type.Integer()),
    memory_mb: Type.Optional(Type.Integer()),
    disk_gb: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Uuid });
const list = <T extends Parameters<typeof Type.Array>[0]>(item: T) => Type.Object({ items: Type.Array(item), total: Type.Integer() });
const NameT = Type.String({ minLength: 1, maxLength: 256 });
const DescriptionT = Type.String({ maxLength: 1000 });
const UserIds = Type.Array(Uuid, { maxItems: 500 });

export function registerGroupRoutes(ctx: AppContext, groups: GroupsService, snapshots: SnapshotsService, provisioner: GroupProvisioner): FastifyPluginAsync {
  const detail = async (g: GroupRecord) => ({ ...toGroupDto(g), usage: await groups.usage(g.id), members: (await groups.members(g.id)).map(toMemberDto) });

  return async (app) => {
    app.get(
      '/api/me/groups',
      { config: { auth: 'user' }, schema: { tags, security, summary: 'The groups (classes) you are a member of', response: { 200: list(MyGroup) } } },
      async (req) => {
        const items = (await groups.listFor(principalOf(req))).map((g) => ({ id: g.id, name: g.name, description: g.description, member_count: g.memberCount, created_at: g.createdAt.toISOString() }));
        return { items, total: items.length };
      },
    );

    app.get(
      '/api/admin/groups',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'List groups', response: { 200: list(Group) } } },
      async () => {
        const items = (await groups.list()).map(toGroupDto);
        return { items, total: items.length };
      },
    );

    app.post(
      '/api/admin/groups',
      {
        config: { auth: 'admin' },
        schema: {
          tags,
          security,
          summary: 'Create a group with optional members and quota (caps the sum of the group’s VMs; members’ own quotas still apply)',
          body: Type.Object({ name: NameT, description: Type.Optional(DescriptionT), quota: Type.Optional(QuotaPatch), members: Type.Optional(UserIds) }, { additionalProperties: false }),
          response: { 201: GroupDetail },
        },
      },
      async (req, reply) => {
        const body = req.body as { name: string; description?: string; quota?: Partial<GroupLimits>; members?: string[] };
        return reply.code(201).send(await detail(await groups.create(req, principalOf(req), body)));
      },
    );

    app.get(
      '/api/admin/groups/:id',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'A group with its members, quota and usage', params: IdParams, response: { 200: GroupDetail } } },
      async (req) => detail(await groups.load((req.params as { id: string }).id)),
    );

    app.patch(
      '/api/admin/groups/:id',
      {
        config: { auth: 'admin' },
        schema: { tags, security, summary: 'Rename or describe a group', params: IdParams, body: Type.Object({ name: Type.Optional(NameT), description: Type.Optional(DescriptionT) }, { additionalProperties: false, minProperties: 1 }), response: { 200: GroupDetail } },
      },
      async (req) => detail(await groups.update(req, (req.params as { id: string }).id, req.body as { name?: string; description?: string })),
    );

    app.delete(
      '/api/admin/groups/:id',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'Delete a group (its VMs stay with their owners)', params: IdParams, response: { 204: Type.Null() } } },
      async (req, reply) => {
        await groups.remove(req, (req.params as { id: string }).id);
        return reply.code(204).send();
      },
    );

    app.post(
      '/api/admin/groups/:id/members',
      {
        config: { auth: 'admin' },
        schema: { tags, security, summary: 'Add members (existing users; already-members are ignored)', params: IdParams, body: Type.Object({ user_ids: Type.Array(Uuid, { minItems: 1, maxItems: 500 }) }, { additionalProperties: false }), response: { 200: list(Member) } },
      },
      async (req) => {
        const items = (await groups.addMembers(req, (req.params as { id: string }).id, (req.body as { user_ids: string[] }).user_ids)).map(toMemberDto);
        return { items, total: items.length };
      },
    );

    app.delete(
      '/api/admin/groups/:id/members/:userId',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'Remove a member (VMs provisioned for them stay until deleted)', params: Type.Object({ id: Uuid, userId: Uuid }), response: { 204: Type.Null() } } },
      async (req, reply) => {
        const p = req.params as { id: string; userId: string };
        await groups.removeMember(req, p.id, p.userId);
        return reply.code(204).send();
      },
    );

    app.put(
      '/api/admin/groups/:id/quota',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'Set some of the group’s limits (null = unlimited)', params: IdParams, body: QuotaPatch, response: { 200: GroupDetail } } },
      async (req) => detail(await groups.setQuota(req, (req.params as { id: string }).id, req.body as Partial<GroupLimits>)),
    );

    app.get(
      '/api/admin/groups/:id/vms',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'The VMs provisioned for the group', params: IdParams, response: { 200: list(VmDto) } } },
      async (req) => {
        const items = (await groups.vms((req.params as { id: string }).id, principalOf(req))).map(toVmDto);
        return { items, total: items.length };
      },
    );

    app.post(
      '/api/admin/groups/:id/actions',
      {
        config: { auth: 'admin' },
        schema: {
          tags,
          security,
          summary: 'Start, stop, delete or snapshot every VM of the group; the result of each VM is listed',
          params: IdParams,
          body: Type.Object({ action: Type.Union(BULK_ACTIONS.map((a) => Type.Literal(a))), snapshot_name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })) }, { additionalProperties: false }),
          response: { 200: Type.Object({ action: Type.String(), items: Type.Array(BulkItemT), total: Type.Integer(), accepted: Type.Integer(), failed: Type.Integer() }) },
        },
      },
      async (req) => {
        const principal = principalOf(req);
        const id = (req.params as { id: string }).id;
        const body = req.body as { action: BulkAction; snapshot_name?: string };
        const group = await groups.load(id);
        const items = await runBulkAction(ctx, snapshots, req, principal, group, await groups.vms(id, principal), body.action, { snapshotName: body.snapshot_name });
        const failed = items.filter((i) => i.result === 'failed').length;
        return { action: body.action, items, total: items.length, accepted: items.length - failed, failed };
      },
    );

    app.post(
      '/api/admin/groups/:id/provision',
      {
        config: { auth: 'admin' },
        schema: {
          tags,
          security,
          summary: 'Create one VM per active member from a template, all-or-nothing on quotas (group and each member); progress as group.provision.progress events',
          params: IdParams,
          body: ProvisionBody,
          response: { 202: Provision },
        },
      },
      async (req, reply) => {
        const p = await provisioner.provision(req, principalOf(req), (req.params as { id: string }).id, req.body as ProvisionInput);
        return reply.code(202).send(toProvisionDto(p));
      },
    );

    app.get(
      '/api/admin/groups/:id/provisions',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'Recent provisions of the group (newest first)', params: IdParams, response: { 200: list(Provision) } } },
      async (req) => {
        const id = (req.params as { id: string }).id;
        await groups.load(id);
        const items = [];
        for (const pid of await listProvisionIds(ctx.database.db, id)) {
          const p = await provisioner.refresh(pid);
          if (p) items.push(toProvisionDto(p));
        }
        return { items, total: items.length };
      },
    );

    app.get(
      '/api/admin/group-provisions/:id',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'One provision: per-member state and errors', params: IdParams, response: { 200: Provision } } },
      async (req) => {
        const p = await provisioner.refresh((req.params as { id: string }).id);
        if (!p) throw notFound('Provision');
        return toProvisionDto(p);
      },
    );
  };
}
