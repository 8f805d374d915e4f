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
  error_message: Type.Union([Type.String(), Type.Null()]),
  /** accepted while running; the guest sees them after its next power cycle */
  pending_changes: Type.Object({ vcpus: Type.Optional(Type.Integer()), memory_mb: Type.Optional(Type.Integer()) }),
  allowed_actions: Type.Array(ActionT),
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
    error_message: v.errorMessage,
    pending_changes: {
      ...(v.pendingChanges.vcpus !== undefined ? { vcpus: v.pendingChanges.vcpus } : {}),
      ...(v.pendingChanges.memory_mb !== undefined ? { memory_mb: v.pendingChanges.memory_mb } : {}),
    },
    allowed_actions: allowedActions(v.state),
    created_at: v.createdAt.toISOString(),
    updated_at: v.updatedAt.toISOString(),
  };
}

export const VmParams = Type.Object({ uuid: Uuid });

export const CreateVmBody = Type.Object(
  {
    name: Type.String({ maxLength: 1024 }),
    vcpus: Type.Integer(),
    memory_mb: Type.Integer(),
    disk_gb: Type.Integer(),
    iso: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
    start: Type.Optional(Type.Boolean()),
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
