// libvirt storage XML (pure): the volume definition LIMEN creates, and what it reads back from
// `virsh vol-dumpxml` (format probed from the content, virtual and file size).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVolumeXml, poolNameFor, volumeXml } from '../../src/hypervisor/libvirt/qemu-storage.js';
import { volumeNamesOf } from '../../src/modules/vms/vm-storage-move.js';

test('vol-dumpxml of a qcow2 volume: format, virtual size and the size of the file', () => {
  const xml = `<volume type='file'>
  <name>0b6f.qcow2</name>
  <key>/data/disks/0b6f.qcow2</key>
  <capacity unit='bytes'>1073741824</capacity>
  <allocation unit='bytes'>4460544</allocation>
  <physical unit='bytes'>4521984</physical>
  <target><path>/data/disks/0b6f.qcow2</path><format type='qcow2'/></target>
</volume>`;
  assert.deepEqual(parseVolumeXml(xml), { name: '0b6f.qcow2', format: 'qcow2', capacityBytes: 1073741824, physicalBytes: 4521984 });
});

test('a volume definition: empty raw (what an upload fills) or qcow2 of a virtual size, private mode', () => {
  const raw = volumeXml('a-cidata.iso', 'raw', 0);
  assert.match(raw, /<volume type="file"><name>a-cidata\.iso<\/name><capacity unit="bytes">0<\/capacity>/);
  assert.match(raw, /<format type="raw"><\/format>/);
  assert.match(raw, /<mode>0600<\/mode>/);
  const parsed = parseVolumeXml(volumeXml('b.qcow2', 'qcow2', 2147483648));
  assert.equal(parsed.format, 'qcow2');
  assert.equal(parsed.capacityBytes, 2147483648);
});

test('one pool name per directory, the same on every host', () => {
  assert.equal(poolNameFor('/var/lib/limen/disks'), poolNameFor('/var/lib/limen/disks'));
  assert.notEqual(poolNameFor('/var/lib/limen/disks'), poolNameFor('/srv/limen/disks'));
  assert.match(poolNameFor('/x'), /^limen-[0-9a-f]{12}$/);
});

test('the volumes of a VM: its disk, and the cloud-init seed when it has one', () => {
  const uuid = '0b6f0000-0000-4000-8000-000000000001';
  assert.deepEqual(volumeNamesOf({ uuid, diskPath: `/d/disks/${uuid}.qcow2`, cloudInit: null }), [`${uuid}.qcow2`]);
  assert.deepEqual(volumeNamesOf({ uuid, diskPath: `/d/disks/${uuid}.qcow2`, cloudInit: { hostname: 'x' } }), [`${uuid}.qcow2`, `${uuid}-cidata.iso`]);
});
