export { createGroupsService, enforceGroupQuota, type GroupsService, type GroupInput } from './groups.service.js';
export { registerGroupRoutes } from './groups.routes.js';
export { createGroupQuotaPolicy } from './group-policy.js';
export { GROUP_QUOTA_KEYS, type GroupLimits, type GroupUsage } from './group-quota.js';
export { groupVmUuids, findGroup, groupIdsOf, type GroupRecord } from './groups.repo.js';
export { createGroupProvisioner, type GroupProvisioner } from './group-provision.js';
