// The web UI's state logic, run in node without a browser: quota math behind the bars and the
// create dialog, and the merging of live VM events with fetched lists.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { exceededByCreate, exceededByStart, fits, isOverLimit, remaining, usageFraction, type Quota } from '../../web/src/lib/quota.js';
import { applyVmEvent, applyVmEventToOne, mergeFetchedVms, parseEventMessage } from '../../web/src/lib/vm-events.js';
import { MAX_RECONNECTS, closeOutcome, reconnectDelayMs } from '../../web/src/lib/console-close.js';
import { defaultSize, sizeOptions } from '../../web/src/lib/vm-sizes.js';
import { checkPassword } from '../../web/src/lib/password-policy.js';
import { actionsFor } from '../../web/src/lib/vm-actions.js';
import { readGauge } from '../../web/src/lib/prometheus-text.js';
import { applyAlertEvent, applyBackupProgress, parseAdminEvent, sortAlerts, type AlertLike } from '../../web/src/lib/admin-events.js';
import {
  applyProvisionUpdate, defaultNamePrefix, isValidNamePrefix, memberVmName, provisionSummary, quotaRefusal, sizesBelowMinimum, sizesFromTemplate, templatesForGroup,
  type ProvisionLike, type TemplateLike,
} from '../../web/src/lib/group-provision.js';

const quota = (limits: Partial<Quota['limits']>, usage: Partial<Quota['usage']>): Quota => ({
  limits: { vms: 5, vcpus: 8, memory_mb: 16384, disk_gb: 200, snapshots: 10, running_vms: 3, running_vcpus: 8, running_memory_mb: 16384, ...limits },
  usage: { vms: 0, vcpus: 0, memory_mb: 0, disk_gb: 0, snapshots: 0, running_vms: 0, running_vcpus: 0, running_memory_mb: 0, ...usage },
});

describe('quota math', () => {
  test('remaining is limit - used, never negative, null when unlimited', () => {
    const q = quota({ vcpus: 8, memory_mb: null, disk_gb: 10 }, { vcpus: 3, disk_gb: 12 });
    assert.equal(remaining(q, 'vcpus'), 5);
    assert.equal(remaining(q, 'memory_mb'), null);
    assert.equal(remaining(q, 'disk_gb'), 0);
  });

  test('a lowered limit shows usage over it, full bar', () => {
    const q = quota({ vms: 2 }, { vms: 3 });
    assert.equal(isOverLimit(q, 'vms'), true);
    assert.equal(usageFraction(q, 'vms'), 1);
    assert.equal(isOverLimit(quota({ vms: 3 }, { vms: 3 }), 'vms'), false);
    assert.equal(usageFraction(quota({ vms: null }, { vms: 3 }), 'vms'), 0);
    assert.equal(usageFraction(quota({ vms: 0 }, { vms: 0 }), 'vms'), 0);
  });

  test('create is refused for exactly the resources it would exceed', () => {
    const q = quota({ vcpus: 4, memory_mb: 2048 }, { vms: 1, vcpus: 2, memory_mb: 1024 });
    assert.deepEqual(exceededByCreate(q, { vcpus: 2, memory_mb: 1024, disk_gb: 10 }), []);
    assert.deepEqual(exceededByCreate(q, { vcpus: 3, memory_mb: 2048, disk_gb: 10 }), ['vcpus', 'memory_mb']);
    assert.deepEqual(exceededByCreate(quota({ vms: 1 }, { vms: 1 }), { vcpus: 1, memory_mb: 64, disk_gb: 1 }), ['vms']);
    assert.deepEqual(exceededByCreate(quota({ vms: null, vcpus: null, memory_mb: null, disk_gb: null }, { vms: 99 }), { vcpus: 32, memory_mb: 262144, disk_gb: 4096 }), []);
  });

  test('start checks the running limits', () => {
    const q = quota({ running_vms: 1 }, { running_vms: 1 });
    assert.deepEqual(exceededByStart(q, { vcpus: 1, memory_mb: 64 }), ['running_vms']);
    assert.equal(fits(q, 'running_vcpus', 8), true);
  });

  test('size options disable what would exceed; resize counts only the increase', () => {
    const q = quota({ vcpus: 4 }, { vcpus: 2 });
    const opts = sizeOptions(q, 'vcpus');
    assert.deepEqual(opts.filter((o) => o.allowed).map((o) => o.value), [1, 2]);
    // A 2-vCPU VM being resized may grow by the 2 left: up to 4.
    assert.deepEqual(sizeOptions(q, 'vcpus', 2).filter((o) => o.allowed).map((o) => o.value), [1, 2, 3, 4]);
    assert.equal(defaultSize(sizeOptions(quota({ memory_mb: 600 }, {}), 'memory_mb'), 1024), 512);
    assert.equal(defaultSize(sizeOptions(undefined, 'disk_gb'), 10), 10);
  });

  test('an admin lowering the quota shows up in the create dialog options', () => {
    const before = sizeOptions(quota({ memory_mb: 16384 }, { memory_mb: 1024 }), 'memory_mb');
    const after = sizeOptions(quota({ memory_mb: 2048 }, { memory_mb: 1024 }), 'memory_mb');
    assert.ok(before.find((o) => o.value === 4096)?.allowed);
    assert.equal(after.find((o) => o.value === 4096)?.allowed, false);
    assert.equal(after.find((o) => o.value === 1024)?.allowed, true);
  });
});

describe('live VM event merging', () => {
  const vm = (uuid: string, state: string, at: string) => ({ uuid, name: uuid, state, updated_at: at });
  const T1 = '2025-01-01T00:00:01.000Z';
  const T2 = '2025-01-01T00:00:02.000Z';

  test('state events merge partial updates; older ones are ignored', () => {
    const list = [vm('a', 'stopped', T1)];
    const started = applyVmEvent(list, { type: 'vm.state', vm: { uuid: 'a', state: 'running', updated_at: T2 } });
    assert.equal(started[0]?.state, 'running');
    assert.equal(started[0]?.name, 'a');
    const stale = applyVmEvent(started, { type: 'vm.state', vm: { uuid: 'a', state: 'stopped', updated_at: T1 } });
    assert.equal(stale, started, 'an older event changes nothing');
  });

  test('created adds, deleted removes, stats never change the list', () => {
    let list = applyVmEvent([] as ReturnType<typeof vm>[], { type: 'vm.created', vm: vm('a', 'creating', T1) });
    assert.equal(list.length, 1);
    assert.equal(applyVmEvent(list, { type: 'vm.stats', vm: { uuid: 'a' } }), list);
    list = applyVmEvent(list, { type: 'vm.deleted', vm: { uuid: 'a' } });
    assert.deepEqual(list, []);
    // A partial update for an unknown VM waits for the next fetch instead of inventing a VM.
    assert.deepEqual(applyVmEvent([] as ReturnType<typeof vm>[], { type: 'vm.state', vm: { uuid: 'x', state: 'running' } }), []);
  });

  test('a slow fetch never overwrites a newer event', () => {
    const known = [vm('a', 'running', T2)];
    const fetched = [vm('a', 'stopped', T1), vm('b', 'stopped', T1)];
    const merged = mergeFetchedVms(known, fetched);
    assert.equal(merged.find((v) => v.uuid === 'a')?.state, 'running');
    assert.equal(merged.length, 2);
    assert.equal(mergeFetchedVms([vm('a', 'running', T1)], [vm('a', 'paused', T2)])[0]?.state, 'paused');
    assert.deepEqual(mergeFetchedVms(known, []), [], 'VMs absent from the fetch are gone');
  });

  test('the VM page follows its own VM only', () => {
    const one = vm('a', 'stopped', T1);
    assert.equal(applyVmEventToOne(one, { type: 'vm.state', vm: { uuid: 'b', state: 'running', updated_at: T2 } }), one);
    assert.equal(applyVmEventToOne(one, { type: 'vm.state', vm: { uuid: 'a', state: 'running', updated_at: T2 } })?.state, 'running');
    assert.equal(applyVmEventToOne(one, { type: 'vm.deleted', vm: { uuid: 'a' } }), null);
  });
});

describe('small UI rules', () => {
  test('password hints mirror the server policy', () => {
    const ok = (p: string, u: string) => checkPassword(p, u).filter((r) => !r.ok).map((r) => r.id);
    assert.deepEqual(ok('short', 'bob'), ['length']);
    assert.deepEqual(ok('alicealice', 'AliceAlice'), ['not_username']);
    assert.deepEqual(ok('1234567890', 'bob'), ['not_common']);
    assert.deepEqual(ok('correct horse battery', 'bob'), []);
    assert.deepEqual(ok('x'.repeat(257), 'bob'), ['length']);
    assert.deepEqual(ok('é'.repeat(10), 'bob'), [], 'length counts characters');
  });

  test('power actions offered by state', () => {
    assert.deepEqual(actionsFor('stopped'), ['start']);
    assert.ok(actionsFor('running').includes('stop'));
    assert.deepEqual(actionsFor('paused'), ['resume', 'stop']);
    assert.deepEqual(actionsFor('creating'), []);
    assert.deepEqual(actionsFor('missing'), []);
  });

  test('host gauges are read from Prometheus text', () => {
    const text = '# HELP host_cpu_usage_percent x\n# TYPE host_cpu_usage_percent gauge\nhost_cpu_usage_percent 12.5\nhost_cpu_usage_percent_other 1\n';
    assert.equal(readGauge(text, 'host_cpu_usage_percent'), 12.5);
    assert.equal(readGauge(text, 'host_disk_usage_percent'), undefined);
  });

  test('power actions follow the server\'s allowed_actions when the VM carries them', () => {
    assert.deepEqual(actionsFor('running', ['stop', 'shutdown']), ['shutdown', 'stop'], 'table order, server set');
    assert.deepEqual(actionsFor('stopped', []), []);
  });

  test('events: snapshots mean resync, VM events pass, anything else is ignored', () => {
    assert.deepEqual(parseEventMessage('{"type":"snapshot","vms":[]}'), { type: 'resync' });
    const ev = parseEventMessage('{"type":"vm.stats","vm":{"uuid":"u1"},"stats":{"cpu_percent":1}}');
    assert.equal(ev?.type, 'vm.stats');
    assert.equal(parseEventMessage('not json'), null);
    assert.equal(parseEventMessage('{"type":"vm.state"}'), null, 'no vm');
    assert.equal(parseEventMessage('{"type":"ping","vm":{"uuid":"u"}}'), null);
  });
});

describe('admin events (alerts page, backups page)', () => {
  const alert = (fingerprint: string, status: string, updated: string, startsAt = '2026-01-01T10:00:00Z'): AlertLike => ({ fingerprint, status, starts_at: startsAt, received_at: '2026-01-01T10:00:01Z', updated_at: updated });

  test('only admin alert and backup messages parse; VM events and junk do not', () => {
    assert.equal(parseAdminEvent('{"type":"alert.firing","alert":{"fingerprint":"f1"}}')?.type, 'alert.firing');
    assert.equal(parseAdminEvent('{"type":"alert.resolved","truncated":true}')?.type, 'alert.resolved', 'a payload too large for NOTIFY: refetch');
    assert.equal(parseAdminEvent('{"type":"backup.progress","backup":{"id":"b1","step":"disks","bytes":5}}')?.type, 'backup.progress');
    assert.equal(parseAdminEvent('{"type":"alert.firing"}'), null, 'no alert, not truncated');
    assert.equal(parseAdminEvent('{"type":"backup.completed","backup":{}}'), null, 'no id');
    assert.equal(parseAdminEvent('{"type":"vm.state","vm":{"uuid":"u"}}'), null);
    assert.equal(parseAdminEvent('{"type":"snapshot","vms":[]}'), null);
    assert.equal(parseAdminEvent('nope'), null);
  });

  test('a firing alert is added on top; its resolution replaces it; a stale copy never brings firing back', () => {
    const older = alert('old', 'resolved', '2026-01-01T09:00:00Z');
    let list = applyAlertEvent([older], alert('f1', 'firing', '2026-01-01T10:00:01Z'));
    assert.deepEqual(list.map((a) => [a.fingerprint, a.status]), [['f1', 'firing'], ['old', 'resolved']], 'firing first');
    list = applyAlertEvent(list, alert('f1', 'resolved', '2026-01-01T10:05:00Z'));
    assert.deepEqual(list.map((a) => [a.fingerprint, a.status]), [['f1', 'resolved'], ['old', 'resolved']], 'replaced, not added');
    assert.equal(applyAlertEvent(list, alert('f1', 'firing', '2026-01-01T10:00:01Z')), list, 'an older copy is ignored (same array back)');
    // The same alert firing again later is a new occurrence (new starts_at): a second row. Times compare as instants.
    list = applyAlertEvent(list, alert('f1', 'firing', '2026-01-01T11:00:01Z', '2026-01-01T11:00:00.000Z'));
    assert.deepEqual(list.map((a) => [a.fingerprint, a.status]), [['f1', 'firing'], ['f1', 'resolved'], ['old', 'resolved']]);
    assert.equal(applyAlertEvent(list, alert('f1', 'firing', '2026-01-01T11:00:01Z', '2026-01-01T11:00:00Z')).length, 3);
    assert.deepEqual(sortAlerts([older, alert('x', 'firing', 'z')]).map((a) => a.fingerprint), ['x', 'old']);
  });

  test('backup progress updates the running row only', () => {
    const rows = [{ id: 'b1', status: 'running', progress: {} }, { id: 'b0', status: 'completed', progress: {} }];
    const next = applyBackupProgress(rows, { id: 'b1', step: 'disks', bytes: 1024 });
    assert.deepEqual(next[0]!.progress, { step: 'disks', bytes: 1024 });
    assert.equal(applyBackupProgress(rows, { id: 'b0', step: 'x' }), rows, 'a finished backup is not revived');
    assert.equal(applyBackupProgress(rows, { id: 'unknown' }), rows, 'unknown until the next refetch');
  });
});

describe('console close codes', () => {
  test('final codes never reconnect and say why', () => {
    for (const code of [4001, 4002, 4003, 4004, 4005, 4007, 4008, 4010]) {
      const o = closeOutcome(code, 'server reason', 0);
      assert.equal(o.retry, false, String(code));
      assert.ok(o.message.length > 10, String(code));
    }
    assert.match(closeOutcome(4002, '', 0).message, /Too many consoles/);
    assert.match(closeOutcome(4005, '', 0).message, /administrator/);
    assert.match(closeOutcome(4009, '', 0).message, /SSH tunnel/);
    assert.match(closeOutcome(4010, '', 0).message, /not available/);
    assert.deepEqual(closeOutcome(1000, '', 0), { retry: false, message: '' }, 'our own close');
  });

  test('transient closes reconnect with a new ticket, up to a limit', () => {
    for (const code of [1006, 1001, 4000, 4006, 4009]) assert.equal(closeOutcome(code, '', 0).retry, true, String(code));
    const last = closeOutcome(1006, 'gone', MAX_RECONNECTS);
    assert.equal(last.retry, false);
    assert.match(last.message, /could not reconnect/);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(reconnectDelayMs), [500, 1000, 2000, 4000, 8000, 8000]);
  });
});

describe('provision for group', () => {
  const tpl = (id: string, over: Partial<TemplateLike> = {}): TemplateLike => ({ id, name: id, state: 'ready', visibility: 'everyone', group_id: null, min_vcpus: 1, min_memory_mb: 64, min_disk_gb: 1, ...over });
  const prov = (over: Partial<ProvisionLike> = {}): ProvisionLike => ({ id: 'p1', group_id: 'g1', state: 'running', total: 3, succeeded: 0, failed: 0, pending: 3, items: [], ...over });

  test('offers ready templates shared with everyone or with this group, by name', () => {
    const list = [
      tpl('zeta'),
      tpl('alpha', { visibility: 'group', group_id: 'g1' }),
      tpl('other-group', { visibility: 'group', group_id: 'g2' }),
      tpl('private', { visibility: 'private' }),
      tpl('copying', { state: 'creating' }),
    ];
    assert.deepEqual(templatesForGroup(list, 'g1').map((t) => t.id), ['alpha', 'zeta']);
    assert.deepEqual(templatesForGroup(list, 'g2').map((t) => t.id), ['other-group', 'zeta']);
  });

  test('sizes start at the template minimums; anything below is flagged', () => {
    const t = tpl('big', { min_vcpus: 2, min_memory_mb: 2048, min_disk_gb: 20 });
    assert.deepEqual(sizesFromTemplate(t), { vcpus: 2, memory_mb: 2048, disk_gb: 20 });
    assert.deepEqual(sizesBelowMinimum(t, { vcpus: 2, memory_mb: 2048, disk_gb: 20 }), []);
    assert.deepEqual(sizesBelowMinimum(t, { vcpus: 1, memory_mb: 4096, disk_gb: 10 }), ['vcpus', 'disk_gb']);
    assert.deepEqual(sizesBelowMinimum(t, { vcpus: Number.NaN, memory_mb: 2048, disk_gb: 20 }), ['vcpus'], 'an emptied field cannot be sent');
  });

  test('the name pattern follows the server: slug of the group, <prefix>-<member>', () => {
    assert.equal(defaultNamePrefix('Operating Systems — Autumn 2026'), 'operating-systems-autumn');
    assert.equal(defaultNamePrefix('☃☃'), 'group');
    assert.equal(memberVmName('os', 'carol'), 'os-carol');
    assert.equal(memberVmName('p'.repeat(32), 'u'.repeat(40)).length, 64);
    assert.equal(isValidNamePrefix('lab-1.a_b'), true);
    for (const bad of ['', '-lab', 'has space', 'x'.repeat(33), 'ünï']) assert.equal(isValidNamePrefix(bad), false, bad);
  });

  test('progress only moves forward; another provision is ignored', () => {
    const started = prov();
    const oneDone = prov({ succeeded: 1, pending: 2 });
    const finished = prov({ state: 'partial', succeeded: 2, failed: 1, pending: 0 });
    assert.equal(applyProvisionUpdate(null, started), started);
    assert.equal(applyProvisionUpdate(started, oneDone), oneDone);
    assert.equal(applyProvisionUpdate(oneDone, started), oneDone, 'a late older copy does not bring back pending rows');
    assert.equal(applyProvisionUpdate(oneDone, finished), finished);
    assert.equal(applyProvisionUpdate(finished, prov({ succeeded: 2, failed: 1, pending: 0 })), finished, 'finished stays finished');
    assert.equal(applyProvisionUpdate(finished, prov({ id: 'p2' })), finished, 'another provision');
  });

  test('summaries say how many were made and that failures are listed', () => {
    assert.equal(provisionSummary(prov({ succeeded: 1, failed: 1, pending: 1 })), '2 of 3 machines done, 1 failed…');
    assert.equal(provisionSummary(prov({ state: 'succeeded', succeeded: 3, pending: 0 })), 'All 3 machines created.');
    assert.match(provisionSummary(prov({ state: 'partial', succeeded: 2, failed: 1, pending: 0 })), /^2 of 3 machines created; 1 failed/);
    assert.match(provisionSummary(prov({ state: 'failed', failed: 3, pending: 0 })), /No machine was created/);
  });

  test('a quota refusal is explained by scope; other errors are not refusals', () => {
    const group = quotaRefusal({ errorCode: 'QUOTA_EXCEEDED', message: 'Group quota exceeded for vms', details: { scope: 'group', resource: 'vms', limit: 1, used: 0, requested: 2 } });
    assert.deepEqual(group && { scope: group.scope, limit: group.limit, requested: group.requested, members: group.members }, { scope: 'group', limit: 1, requested: 2, members: [] });
    const member = quotaRefusal({ errorCode: 'QUOTA_EXCEEDED', message: 'Quota exceeded for vcpus', details: { scope: 'member', resource: 'vcpus', limit: 2, used: 2, requested: 1, members: [{ user_id: 'u1', username: 'carol' }, { user_id: 'u2', username: 'dave' }] } });
    assert.deepEqual(member?.members, ['carol', 'dave']);
    assert.equal(member?.scope, 'member');
    assert.equal(quotaRefusal({ errorCode: 'VALIDATION_FAILED', message: 'bad' }), null);
    assert.equal(quotaRefusal(new Error('network')), null);
    assert.equal(quotaRefusal(undefined), null);
  });

  test('group.provision.progress is an admin event only with a provision in it', () => {
    const ok = parseAdminEvent(JSON.stringify({ type: 'group.provision.progress', provision: { id: 'p1', group_id: 'g1', items: [] } }));
    assert.equal(ok?.type, 'group.provision.progress');
    assert.equal(parseAdminEvent(JSON.stringify({ type: 'group.provision.progress', provision: { id: 'p1' } })), null);
    assert.equal(parseAdminEvent(JSON.stringify({ type: 'group.provision.progress' })), null);
  });
});
