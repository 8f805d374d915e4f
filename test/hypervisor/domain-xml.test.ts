// Pure tests of the domain XML builder, parser and structured edits: escaping, round trips,
// security-relevant shape (VNC on loopback only, no host paths but the caller's).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDomainXml, parseDomainXml } from '../../src/hypervisor/libvirt/domain-xml.js';
import { setBootOrderInXml, setCdromSourceInXml, setMemoryInXml, setVcpusInXml } from '../../src/hypervisor/libvirt/xml-edit.js';
import { isHypervisorError, uuidFromDomainName, type DomainSpec } from '../../src/hypervisor/index.js';

const UUID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const base: DomainSpec = { uuid: UUID, vcpus: 1, memoryMb: 64, accel: 'tcg' };
const NASTY = [
  `quote ' and " both`,
  '<script>alert(1)</script>',
  'Tom & Jerry',
  'already &amp; encoded &lt; &#65; &foo;',
  'cdata end ]]> here',
  'emoji 😀🚀 and ünïcödé',
  'x'.repeat(300),
];

describe('buildDomainXml', () => {
  test('shape: name from uuid, TCG → qemu, memory, vcpus, devices', () => {
    const d = parseDomainXml(buildDomainXml({ ...base, diskPath: '/data/disks/a.qcow2', isoPath: '/data/isos/x.iso' }));
    assert.equal(d.name, `limen-${UUID}`);
    assert.equal(uuidFromDomainName(d.name), UUID);
    assert.equal(d.uuid, UUID);
    assert.equal(d.domainType, 'qemu');
    assert.equal(d.machine, 'q35');
    assert.equal(d.memoryKiB, 64 * 1024);
    assert.equal(d.currentMemoryKiB, 64 * 1024);
    assert.equal(d.vcpus, 1);
    assert.deepEqual(d.bootOrder, ['cdrom', 'hd']);
    assert.deepEqual(
      d.disks.map((x) => [x.device, x.target, x.bus, x.source, x.format]),
      [
        ['disk', 'vda', 'virtio', '/data/disks/a.qcow2', 'qcow2'],
        ['cdrom', 'sda', 'sata', '/data/isos/x.iso', 'raw'],
      ],
    );
    assert.deepEqual(d.interfaces, [{ type: 'user', mac: null, model: 'virtio' }]);
    assert.ok(d.hasGuestAgentChannel);
  });

  test('kvm, pc machine (IDE cdrom), max vcpus/memory, explicit MAC, bridge network', () => {
    const d = parseDomainXml(
      buildDomainXml({ ...base, accel: 'kvm', machine: 'pc', vcpus: 2, maxVcpus: 4, memoryMb: 128, maxMemoryMb: 256, mac: '52:54:00:AA:bb:cc', network: { type: 'bridge', name: 'br0' } }),
    );
    assert.equal(d.domainType, 'kvm');
    assert.equal(d.vcpus, 2);
    assert.equal(d.maxVcpus, 4);
    assert.equal(d.memoryKiB, 256 * 1024);
    assert.equal(d.currentMemoryKiB, 128 * 1024);
    assert.equal(d.disks[0]?.bus, 'ide');
    assert.equal(d.interfaces[0]?.mac, '52:54:00:aa:bb:cc');
    assert.equal(d.interfaces[0]?.type, 'bridge');
  });

  test('VNC on 127.0.0.1 with autoport and no other remote display', () => {
    const xml = buildDomainXml(base);
    const d = parseDomainXml(xml);
    assert.deepEqual(d.vnc, { port: null, autoport: true, listen: '127.0.0.1' });
    assert.doesNotMatch(xml, /0\.0\.0\.0|spice|passwd|type="rdp"/);
  });

  test('without disk or ISO: an empty CD-ROM drive remains (media can be inserted later), no host path', () => {
    const xml = buildDomainXml(base);
    const d = parseDomainXml(xml);
    assert.deepEqual(
      d.disks.map((x) => [x.device, x.source]),
      [['cdrom', null]],
    );
    assert.doesNotMatch(xml, /file="\//);
  });

  for (const s of NASTY) {
    test(`title and description round-trip exactly: ${s.slice(0, 30)}`, () => {
      const xml = buildDomainXml({ ...base, title: s, description: s });
      const d = parseDomainXml(xml);
      assert.equal(d.title, s);
      assert.equal(d.description, s);
      assert.doesNotMatch(xml, /<script>/);
      // and survive a structured edit unchanged
      const e = parseDomainXml(setBootOrderInXml(xml, ['hd']));
      assert.equal(e.title, s);
      assert.equal(e.description, s);
    });
  }

  test('newlines in the title become spaces (libvirt rejects them); XML-illegal control chars are dropped', () => {
    const d = parseDomainXml(buildDomainXml({ ...base, title: 'a\nb\r\nc\u0000d\u0007e', description: 'l1\nl2' }));
    assert.equal(d.title, 'a b cde');
    assert.equal(d.description, 'l1\nl2');
  });

  test('paths with XML metacharacters are escaped, not interpreted', () => {
    const p = `/data/it's "a" <b> & c]]>.iso`;
    const xml = buildDomainXml({ ...base, isoPath: p });
    assert.equal(parseDomainXml(xml).disks[0]?.source, p);
  });

  test('rejects bad input', () => {
    const bad: Partial<DomainSpec>[] = [
      { uuid: 'limen-../../etc' },
      { vcpus: 0 },
      { vcpus: 1.5 },
      { memoryMb: -1 },
      { maxVcpus: 0 },
      { diskPath: 'relative.qcow2' },
      { isoPath: '../x.iso' },
      { mac: 'zz:00:00:00:00:00' },
      { bootOrder: [] },
      { bootOrder: ['hd', 'hd'] },
      { network: { type: 'bridge', name: 'br0"/><x' } },
    ];
    for (const b of bad) assert.throws(() => buildDomainXml({ ...base, ...b }), (e: unknown) => isHypervisorError(e, 'operation_failed'), JSON.stringify(b));
  });

  test('pure: same input, same XML', () => {
    assert.equal(buildDomainXml(base), buildDomainXml({ ...base }));
  });
});

describe('parseDomainXml on libvirt live XML', () => {
  test('reads vnc port, mac, disks, cdrom and boot order', () => {
    const live = `<domain type='qemu' id='7'>
  <name>limen-${UUID}</name><uuid>${UUID}</uuid><title>a &amp; b</title>
  <memory unit='KiB'>98304</memory><currentMemory unit='KiB'>98304</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type><boot dev='hd'/><boot dev='cdrom'/></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/d/a.qcow2' index='2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source index='3'/><target dev='sda' bus='sata'/><readonly/></disk>
    <interface type='user'><mac address='52:54:00:31:50:0a'/><model type='virtio'/></interface>
    <graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>
  </devices></domain>`;
    const d = parseDomainXml(live);
    assert.equal(d.id, 7);
    assert.equal(d.title, 'a & b');
    assert.deepEqual(d.vnc, { port: 5901, autoport: true, listen: '127.0.0.1' });
    assert.equal(d.interfaces[0]?.mac, '52:54:00:31:50:0a');
    assert.equal(d.disks[1]?.source, null); // ejected: <source index='3'/> has no file
    assert.deepEqual(d.bootOrder, ['hd', 'cdrom']);
    assert.equal(d.machine, 'pc-q35-7.2');
  });
});

describe('structured XML edits', () => {
  const xml = buildDomainXml({ ...base, diskPath: '/d/a.qcow2', isoPath: '/i/a.iso', title: 'Tom &amp; Jerry <3' });

  test('boot order', () => {
    const d = parseDomainXml(setBootOrderInXml(xml, ['network', 'hd']));
    assert.deepEqual(d.bootOrder, ['network', 'hd']);
    assert.equal(d.title, 'Tom &amp; Jerry <3');
    assert.throws(() => setBootOrderInXml(xml, []), (e: unknown) => isHypervisorError(e));
  });

  test('cdrom eject and insert', () => {
    const ejected = setCdromSourceInXml(xml, null);
    assert.equal(parseDomainXml(ejected).disks[1]?.source, null);
    const inserted = setCdromSourceInXml(ejected, '/i/b & c.iso');
    assert.equal(parseDomainXml(inserted).disks[1]?.source, '/i/b & c.iso');
    assert.equal(parseDomainXml(inserted).disks[0]?.source, '/d/a.qcow2');
  });

  test('vcpus and memory (raising the maximum when needed)', () => {
    let d = parseDomainXml(setVcpusInXml(xml, 3));
    assert.equal(d.vcpus, 3);
    assert.equal(d.maxVcpus, 3);
    d = parseDomainXml(setVcpusInXml(buildDomainXml({ ...base, maxVcpus: 4 }), 2));
    assert.deepEqual([d.vcpus, d.maxVcpus], [2, 4]);
    d = parseDomainXml(setMemoryInXml(xml, 256));
    assert.deepEqual([d.currentMemoryKiB, d.memoryKiB], [256 * 1024, 256 * 1024]);
    d = parseDomainXml(setMemoryInXml(buildDomainXml({ ...base, memoryMb: 64, maxMemoryMb: 512 }), 128));
    assert.deepEqual([d.currentMemoryKiB, d.memoryKiB], [128 * 1024, 512 * 1024]);
  });
});
