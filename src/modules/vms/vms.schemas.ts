// HTTP shapes of the VM API (allow-lists: only these fields ever leave the server).
import { Type } from 'typebox';
import { VM_ACTIONS, VM_STATES, allowedActions } from './vm-state.js';
import type { VmRecord } from './vms.repo.js';

const Uuid = Type.String({ format: 'uuid' });
const BootDeviceT = Type.Union([Type.Literal('cdrom'), Type.Literal('hd'), Type.Literal('network')]);
const ActionT = Type.Union(VM_ACTIONS.map((a) => Type.Literal(a)));

export const VmDto = Type.Object({
  uuid: Uuid,
  name: Type.String(),
  state: Type.Union(VM_STATES.map((s) => Type.Literal(s))),
  desired_state: Type.String(),
  vcpus: Type.Integer(),
  memory_mb: Type.Integer(),
  disk_gb: Type.Integer(),
  iso: Type.Union([Uuid, Type.Null()]),
  boot_order: Type.Array(BootDeviceT),
  owner_id: Uuid,
  host: Type.String(),
  /** false while the VM's hypervisor host is unreachable: `state` is then the last one known */
  host_reachable: Type.Boolean(),
  /** while an admin migrates the VM: the host it is moving to (null otherwise); the move ends with a vm.updated naming the new `host` */
  migrating_to: Type.Union([Type.String(), Type.Null()]),
  error_message: Type.Union([Type.String(), Type.Null()]),
  /** accepted while running; the guest sees them after its next power cycle */
  pending_changes: Type.Object({ vcpus: Type.Optional(Type.Integer()), memory_mb: Type.Optional(Type.Integer()) }),
  allowed_actions: Type.Array(ActionT),
  /** the template it was made from (null: from an ISO, or that template was deleted) */
  template: Type.Union([Uuid, Type.Null()]),
  clone_mode: Type.Union([Type.Literal('linked'), Type.Literal('full'), Type.Null()]),
  /** a cloud-init seed (hostname, the owner's SSH keys, user-data) is attached */
  cloud_init: Type.Boolean(),
  /** guest addresses last reported by libvirt (DHCP lease or guest agent); [] when none known */
  ip_addresses: Type.Array(Type.String()),
  ip_source: Type.Union([Type.Literal('lease'), Type.Literal('agent'), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export type VmDtoT = ReturnType<typeof toVmDto>;

export function toVmDto(v: VmRecord) {
  return {
    uuid: v.uuid,
    name: v.name,
    state: v.state,
    desired_state: v.desiredState,
    vcpus: v.vcpus,
    memory_mb: v.memoryMb,
    disk_gb: v.diskGb,
    iso: v.isoId,
    boot_order: v.bootOrder,
    owner_id: v.ownerId,
    host: v.host,
    host_reachable: v.hostReachable,
    migrating_to: v.migratingTo,
    error_message: v.errorMessage,
    pending_changes: {
      ...(v.pendingChanges.vcpus !== undefined ? { vcpus: v.pendingChanges.vcpus } : {}),
      ...(v.pendingChanges.memory_mb !== undefined ? { memory_mb: v.pendingChanges.memory_mb } : {}),
    },
    allowed_actions: allowedActions(v.state),
    template: v.templateId,
    clone_mode: v.cloneMode,
    cloud_init: v.cloudInit !== null,
    ip_addresses: v.ipAddresses,
    ip_source: v.ipSource,
    created_at: v.createdAt.toISOString(),
    updated_at: v.updatedAt.toISOString(),
  };
}

export const VmParams = Type.Object({ uuid: Uuid });

const CloneModeT = Type.Union([Type.Literal('linked'), Type.Literal('full')]);
const TemplateFields = {
  /** a template id: the VM's disk is a linked clone (qcow2 overlay) or a full copy of its base */
  template: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
  clone_mode: Type.Optional(CloneModeT),
  /** cloud-init templates only: your own #cloud-config, merged into the seed (max 16 KiB) */
  user_data: Type.Optional(Type.Union([Type.String({ maxLength: 65536 }), Type.Null()])),
};

export const CreateVmBody = Type.Object(
  {
    name: Type.String({ maxLength: 1024 }),
    /** required without a template; with one, default = the template's minimum */
    vcpus: Type.Optional(Type.Integer()),
    memory_mb: Type.Optional(Type.Integer()),
    disk_gb: Type.Optional(Type.Integer()),
    iso: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
    start: Type.Optional(Type.Boolean()),
    ...TemplateFields,
  },
  { additionalProperties: false },
);

/** Several VMs from one template in one all-or-nothing request: names <prefix>-1 … <prefix>-<count>. */
export const CreateBatchBody = Type.Object(
  {
    name_prefix: Type.String({ maxLength: 48 }),
    count: Type.Integer({ minimum: 1, maximum: 50 }),
    vcpus: Type.Optional(Type.Integer()),
    memory_mb: Type.Optional(Type.Integer()),
    disk_gb: Type.Optional(Type.Integer()),
    start: Type.Optional(Type.Boolean()),
    /** a library ISO in each clone's CD-ROM (boot order then cdrom, hd) */
    iso: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
    template: Type.String({ format: 'uuid' }),
    clone_mode: Type.Optional(CloneModeT),
    user_data: TemplateFields.user_data,
  },
  { additionalProperties: false },
);

export const PatchVmBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 1024 })),
    vcpus: Type.Optional(Type.Integer()),
    memory_mb: Type.Optional(Type.Integer()),
    disk_gb: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ActionBody = Type.Object({ action: ActionT }, { additionalProperties: false });

export const Applied = Type.Union([Type.Literal('live'), Type.Literal('next_boot')]);

export const MediaBody = Type.Object({ iso: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]) }, { additionalProperties: false });
export const MediaView = Type.Object({
  iso: Type.Union([Type.Object({ id: Uuid, name: Type.String() }), Type.Null()]),
  applied: Type.Optional(Applied),
});

export const BootOrderBody = Type.Object({ boot_order: Type.Array(Type.String({ maxLength: 16 }), { maxItems: 8 }) }, { additionalProperties: false });
export const BootOrderView = Type.Object({ boot_order: Type.Array(BootDeviceT), applied: Type.Optional(Applied) });

export const PatchResult = Type.Object({ vm: VmDto, applied: Type.Union([Applied, Type.Null()]) });

export const StatsView = Type.Object({
  uuid: Uuid,
  state: Type.String(),
  cpu_percent: Type.Number(),
  memory: Type.Object({ used_mb: Type.Number(), total_mb: Type.Number() }),
  disk: Type.Object({ read_bytes_per_s: Type.Number(), write_bytes_per_s: Type.Number() }),
  net: Type.Object({ rx_bytes_per_s: Type.Number(), tx_bytes_per_s: Type.Number() }),
  guest_ips: Type.Union([Type.Array(Type.String()), Type.Literal('unknown')]),
  interval_s: Type.Number(),
  at: Type.String({ format: 'date-time' }),
});

export const OrphanDto = Type.Object({ uuid: Uuid, name: Type.String(), state: Type.String() });
