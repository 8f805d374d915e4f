// Domain XML: a pure builder (xmlbuilder2: every value is escaped by the serializer, never by hand)
// and a parser for the XML libvirt returns (fast-xml-parser). The earlier implementation edited XML
// with regexes and string search; nothing here concatenates or searches XML text.
//
// Security-relevant choices: VNC listens on 127.0.0.1 only, with autoport, and there is no other
// graphics/remote device; the only host paths in the XML are the disk and ISO paths the caller
// passes (validated to be absolute); the libvirt name is derived from the UUID, never from input.

import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { XMLParser } from 'fast-xml-parser';
import { HypervisorError } from '../errors.js';
import { domainNameFor, isUuid, type BootDevice, type DomainSpec } from '../hypervisor.js';

export const GUEST_AGENT_CHANNEL = 'org.qemu.guest_agent.0';
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const BOOT_DEVICES: readonly BootDevice[] = ['cdrom', 'hd', 'network'];

function invalid(msg: string): HypervisorError {
  return new HypervisorError('operation_failed', `invalid domain spec: ${msg}`);
}

/**
 * Removes characters XML 1.0 cannot carry at all (C0 controls except tab/LF/CR, lone surrogates,
 * U+FFFE/U+FFFF). Everything else, quotes, <, &, ]]> and emoji included, is escaped by xmlbuilder2.
 */
export function xmlSafeText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '');
}

/**
 * A caller-supplied string as an xmlbuilder2 text/attribute value. xmlbuilder2's serializer does not
 * escape an '&' that already starts an entity (its "no double encoding" rule), so "&amp;" would be
 * written unchanged and read back as "&", and "&foo;" would make libvirt reject the XML. Encoding
 * every '&' first turns the input into exactly such entities, which the serializer then keeps:
 * the output is the correctly escaped literal. Round-trip tests in test/hypervisor pin this.
 */
export function lit(s: string): string {
  return xmlSafeText(s).replace(/&/g, '&amp;');
}

/** libvirt rejects newlines in <title>. */
function titleText(s: string): string {
  return lit(s.replace(/[\r\n\t]+/g, ' '));
}

function checkPath(what: string, p: string): void {
  if (!p.startsWith('/') || p.includes('\0') || /[\r\n]/.test(p)) throw invalid(`${what} must be an absolute path`);
}

function checkInt(what: string, n: number, min: number, max: number): void {
  if (!Number.isInteger(n) || n < min || n > max) throw invalid(`${what} must be an integer in ${min}..${max}`);
}

export function validateBootOrder(order: readonly BootDevice[]): void {
  if (order.length === 0) throw invalid('boot order is empty');
  if (new Set(order).size !== order.length) throw invalid('boot order has duplicates');
  for (const d of order) if (!BOOT_DEVICES.includes(d)) throw invalid(`unknown boot device ${String(d)}`);
}

export function validateSpec(spec: DomainSpec): void {
  if (!isUuid(spec.uuid)) throw invalid('uuid is not a UUID');
  checkInt('vcpus', spec.vcpus, 1, 512);
  checkInt('maxVcpus', spec.maxVcpus ?? spec.vcpus, spec.vcpus, 512);
  checkInt('memoryMb', spec.memoryMb, 16, 16 * 1024 * 1024);
  checkInt('maxMemoryMb', spec.maxMemoryMb ?? spec.memoryMb, spec.memoryMb, 16 * 1024 * 1024);
  if (spec.accel !== 'kvm' && spec.accel !== 'tcg') throw invalid('accel must be kvm or tcg');
  if (spec.machine !== undefined && spec.machine !== 'q35' && spec.machine !== 'pc') throw invalid('machine must be q35 or pc');
  if (spec.diskPath !== undefined) checkPath('diskPath', spec.diskPath);
  if (spec.isoPath) checkPath('isoPath', spec.isoPath);
  if (spec.seedIsoPath) checkPath('seedIsoPath', spec.seedIsoPath);
  if (spec.mac !== undefined && !MAC_RE.test(spec.mac)) throw invalid('mac is not a MAC address');
  if (spec.network && spec.network.type !== 'user' && !/^[A-Za-z0-9_.:-]{1,64}$/.test(spec.network.name)) {
    throw invalid('network name');
  }
  validateBootOrder(spec.bootOrder ?? ['cdrom', 'hd']);
}

/** The CD-ROM's target: SATA on q35 (which has no IDE), IDE on pc. */
export function cdromTarget(machine: 'q35' | 'pc'): { dev: string; bus: string } {
  return machine === 'q35' ? { dev: 'sda', bus: 'sata' } : { dev: 'hdc', bus: 'ide' };
}

/** The cloud-init seed drive's target: the next one after the media CD-ROM. */
export function seedTarget(machine: 'q35' | 'pc'): { dev: string; bus: string } {
  return machine === 'q35' ? { dev: 'sdb', bus: 'sata' } : { dev: 'hdd', bus: 'ide' };
}

function addCdrom(devices: XMLBuilder, target: { dev: string; bus: string }, isoPath: string | null | undefined): void {
  const cd = devices.ele('disk', { type: 'file', device: 'cdrom' });
  cd.ele('driver', { name: 'qemu', type: 'raw' });
  if (isoPath) cd.ele('source', { file: lit(isoPath) });
  cd.ele('target', target);
  cd.ele('readonly');
}

/** Builds the persistent definition for spec. Pure: same input, same XML. */
export function buildDomainXml(spec: DomainSpec): string {
  validateSpec(spec);
  const machine = spec.machine ?? 'q35';
  const maxVcpus = spec.maxVcpus ?? spec.vcpus;
  const maxMemKiB = (spec.maxMemoryMb ?? spec.memoryMb) * 1024;
  const doc = create({ version: '1.0' });
  const dom = doc.ele('domain', { type: spec.accel === 'kvm' ? 'kvm' : 'qemu' });
  dom.ele('name').txt(domainNameFor(spec.uuid));
  dom.ele('uuid').txt(spec.uuid.toLowerCase());
  if (spec.title) dom.ele('title').txt(titleText(spec.title));
  if (spec.description) dom.ele('description').txt(lit(spec.description));
  dom.ele('memory', { unit: 'KiB' }).txt(String(maxMemKiB));
  dom.ele('currentMemory', { unit: 'KiB' }).txt(String(spec.memoryMb * 1024));
  const vcpuAttrs: Record<string, string> = { placement: 'static' };
  if (maxVcpus !== spec.vcpus) vcpuAttrs.current = String(spec.vcpus);
  dom.ele('vcpu', vcpuAttrs).txt(String(maxVcpus));
  const os = dom.ele('os');
  os.ele('type', { arch: 'x86_64', machine }).txt('hvm');
  for (const dev of spec.bootOrder ?? ['cdrom', 'hd']) os.ele('boot', { dev });
  const features = dom.ele('features');
  features.ele('acpi');
  features.ele('apic');
  // TCG emulates a generic CPU; with KVM expose the host CPU (no migration between unlike hosts).
  if (spec.accel === 'kvm') dom.ele('cpu', { mode: 'host-passthrough', check: 'none' });
  dom.ele('clock', { offset: 'utc' });
  dom.ele('on_poweroff').txt('destroy');
  dom.ele('on_reboot').txt('restart');
  dom.ele('on_crash').txt('destroy');

  const devices = dom.ele('devices');
  if (spec.diskPath !== undefined) {
    const disk = devices.ele('disk', { type: 'file', device: 'disk' });
    disk.ele('driver', { name: 'qemu', type: 'qcow2', discard: 'unmap' });
    disk.ele('source', { file: lit(spec.diskPath) });
    disk.ele('target', { dev: 'vda', bus: 'virtio' });
  }
  addCdrom(devices, cdromTarget(machine), spec.isoPath);
  // after the media drive, so cdromOf() (the first CD-ROM) stays the user's drive
  if (spec.seedIsoPath) addCdrom(devices, seedTarget(machine), spec.seedIsoPath);

  const net = spec.network ?? { type: 'user' };
  const iface = devices.ele('interface', { type: net.type });
  if (spec.mac) iface.ele('mac', { address: spec.mac.toLowerCase() });
  if (net.type === 'network') iface.ele('source', { network: lit(net.name) });
  if (net.type === 'bridge') iface.ele('source', { bridge: lit(net.name) });
  iface.ele('model', { type: 'virtio' });

  // The only way into the guest's screen: VNC on loopback, proxied by LIMEN after a ticket check.
  const gfx = devices.ele('graphics', { type: 'vnc', port: '-1', autoport: 'yes', listen: '127.0.0.1' });
  gfx.ele('listen', { type: 'address', address: '127.0.0.1' });
  devices.ele('video').ele('model', { type: 'vga' });
  devices.ele('input', { type: 'tablet', bus: 'usb' }); // absolute pointer: noVNC's cursor stays aligned
  devices.ele('channel', { type: 'unix' }).ele('target', { type: 'virtio', name: GUEST_AGENT_CHANNEL });
  devices.ele('serial', { type: 'pty' }).ele('target', { port: '0' });
  devices.ele('console', { type: 'pty' }).ele('target', { type: 'serial', port: '0' });
  devices.ele('memballoon', { model: 'virtio' });
  return doc.end({ headless: true, prettyPrint: true });
}

// ---------------------------------------------------------------------------------------------
// Parser

export interface ParsedDisk {
  device: 'disk' | 'cdrom' | 'floppy' | 'lun';
  target: string;
  bus: string | null;
  source: string | null;
  format: string | null;
}

export interface ParsedDomain {
  uuid: string;
  name: string;
  domainType: string;
  /** present only in live XML of an active domain */
  id: number | null;
  title: string;
  description: string;
  machine: string | null;
  memoryKiB: number;
  currentMemoryKiB: number;
  vcpus: number;
  maxVcpus: number;
  bootOrder: string[];
  disks: ParsedDisk[];
  interfaces: { type: string; mac: string | null; model: string | null }[];
  vnc: { port: number | null; autoport: boolean; listen: string | null } | null;
  hasGuestAgentChannel: boolean;
}

const ARRAY_TAGS = new Set(['disk', 'boot', 'interface', 'graphics', 'listen', 'channel', 'serial', 'console', 'input', 'video', 'controller']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  isArray: (tagName) => ARRAY_TAGS.has(tagName),
});

type Node = Record<string, unknown>;

function obj(v: unknown): Node {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : {};
}
function arr(v: unknown): Node[] {
  return Array.isArray(v) ? v.map(obj) : v === undefined ? [] : [obj(v)];
}
function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  const t = obj(v)['#text'];
  return typeof t === 'string' ? t : '';
}
function attr(n: Node, name: string): string | null {
  const v = n[`@${name}`];
  return typeof v === 'string' ? v : null;
}
function toKiB(v: unknown): number {
  const n = Number(text(v).trim());
  const unit = (attr(obj(v), 'unit') ?? 'KiB').toLowerCase();
  const mult: Record<string, number> = { b: 1 / 1024, bytes: 1 / 1024, k: 1, kib: 1, m: 1024, mib: 1024, g: 1024 * 1024, gib: 1024 * 1024 };
  return Math.round(n * (mult[unit] ?? 1));
}

export function parseDomainXml(xml: string): ParsedDomain {
  let root: Node;
  try {
    root = obj(obj(parser.parse(xml)).domain);
  } catch (e) {
    throw new HypervisorError('operation_failed', 'unparseable domain XML', { cause: e });
  }
  const devices = obj(root.devices);
  const os = obj(root.os);
  const vcpuNode = root.vcpu;
  const maxVcpus = Number(text(vcpuNode).trim()) || 0;
  const cur = attr(obj(vcpuNode), 'current');
  const graphics = arr(devices.graphics).find((g) => attr(g, 'type') === 'vnc');
  let vnc: ParsedDomain['vnc'] = null;
  if (graphics) {
    const portStr = attr(graphics, 'port');
    const port = portStr === null ? null : Number(portStr);
    const listenEl = arr(graphics.listen).find((l) => attr(l, 'type') === 'address');
    vnc = {
      port: port !== null && Number.isInteger(port) && port > 0 ? port : null,
      autoport: attr(graphics, 'autoport') === 'yes',
      listen: (listenEl && attr(listenEl, 'address')) ?? attr(graphics, 'listen'),
    };
  }
  const idAttr = attr(root, 'id');
  return {
    uuid: text(root.uuid).trim(),
    name: text(root.name).trim(),
    domainType: attr(root, 'type') ?? '',
    id: idAttr === null ? null : Number(idAttr),
    title: text(root.title),
    description: text(root.description),
    machine: attr(obj(os.type), 'machine'),
    memoryKiB: toKiB(root.memory),
    currentMemoryKiB: root.currentMemory === undefined ? toKiB(root.memory) : toKiB(root.currentMemory),
    vcpus: cur === null ? maxVcpus : Number(cur),
    maxVcpus,
    bootOrder: arr(os.boot).map((b) => attr(b, 'dev') ?? '').filter((d) => d !== ''),
    disks: arr(devices.disk).map((d) => {
      const src = obj(d.source);
      return {
        device: (attr(d, 'device') ?? 'disk') as ParsedDisk['device'],
        target: attr(obj(d.target), 'dev') ?? '',
        bus: attr(obj(d.target), 'bus'),
        source: attr(src, 'file') ?? attr(src, 'dev') ?? null,
        format: attr(obj(d.driver), 'type'),
      };
    }),
    interfaces: arr(devices.interface).map((i) => ({
      type: attr(i, 'type') ?? '',
      mac: attr(obj(i.mac), 'address'),
      model: attr(obj(i.model), 'type'),
    })),
    vnc,
    hasGuestAgentChannel: arr(devices.channel).some((c) => attr(obj(c.target), 'name') === GUEST_AGENT_CHANNEL),
  };
}

export function cdromOf(d: ParsedDomain): ParsedDisk | undefined {
  return d.disks.find((x) => x.device === 'cdrom');
}
