// Structured edits of an existing (inactive) domain definition, for changes the binding has no
// call for: boot order, and the simulated media/vCPU/memory changes of the test driver. The XML is
// parsed into an order-preserving tree (fast-xml-parser), edited as elements, and rebuilt by the
// same library with entity encoding on: never regexes or string search over XML.
//
// Why not xmlbuilder2 here: its parser decodes "&amp;#65;" twice (to "A") and its serializer keeps
// an '&' that starts an entity, so a title such as "&lt;" would not survive an edit. The
// round-trip tests in test/hypervisor/domain-xml.test.ts pin the behaviour.

import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { HypervisorError } from '../errors.js';
import type { BootDevice } from '../hypervisor.js';
import { validateBootOrder, xmlSafeText } from './domain-xml.js';

/** One element in fast-xml-parser's preserveOrder form: { tag: children, ':@': { '@attr': value } }. */
type XNode = Record<string, unknown>;

const ATTRS = ':@';
const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  commentPropName: '#comment',
});
const builder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  suppressEmptyNode: true,
  processEntities: true,
  commentPropName: '#comment',
});

function tagOf(n: XNode): string | undefined {
  return Object.keys(n).find((k) => k !== ATTRS);
}
function kids(n: XNode): XNode[] {
  const t = tagOf(n);
  const v = t === undefined ? undefined : n[t];
  return Array.isArray(v) ? (v as XNode[]) : [];
}
function setKids(n: XNode, list: XNode[]): void {
  const t = tagOf(n);
  if (t !== undefined) n[t] = list;
}
function attrs(n: XNode): Record<string, string> {
  let a = n[ATTRS] as Record<string, string> | undefined;
  if (!a) {
    a = {};
    n[ATTRS] = a;
  }
  return a;
}
function find(n: XNode, tag: string): XNode[] {
  return kids(n).filter((c) => tagOf(c) === tag);
}
function need(n: XNode, tag: string): XNode {
  const c = find(n, tag)[0];
  if (!c) throw new HypervisorError('operation_failed', `domain definition has no <${tag}>`);
  return c;
}
function el(tag: string, attributes: Record<string, string> = {}, children: XNode[] = []): XNode {
  const n: XNode = { [tag]: children };
  if (Object.keys(attributes).length > 0) n[ATTRS] = Object.fromEntries(Object.entries(attributes).map(([k, v]) => [`@${k}`, v]));
  return n;
}
function textOf(n: XNode): string {
  return kids(n)
    .map((c) => (typeof c['#text'] === 'string' ? c['#text'] : ''))
    .join('');
}
function setText(n: XNode, s: string): void {
  setKids(n, [{ '#text': s }]);
}

function edit(xml: string, fn: (domain: XNode) => void): string {
  let tree: XNode[];
  try {
    tree = parser.parse(xml) as XNode[];
  } catch (e) {
    throw new HypervisorError('operation_failed', 'unparseable domain XML', { cause: e });
  }
  const domain = tree.find((n) => tagOf(n) === 'domain');
  if (!domain) throw new HypervisorError('operation_failed', 'not a domain definition');
  fn(domain);
  return String(builder.build(tree));
}

/** Replaces <os><boot dev=…/>… with `order` (placed right after <os><type>). */
export function setBootOrderInXml(xml: string, order: readonly BootDevice[]): string {
  validateBootOrder(order);
  return edit(xml, (domain) => {
    const os = need(domain, 'os');
    const rest = kids(os).filter((c) => tagOf(c) !== 'boot');
    const typeIdx = rest.findIndex((c) => tagOf(c) === 'type');
    const boots = order.map((dev) => el('boot', { dev }));
    rest.splice(typeIdx + 1, 0, ...boots);
    setKids(os, rest);
    // Per-device <boot order=…> cannot be combined with <os><boot>: drop them.
    for (const devices of find(domain, 'devices')) {
      for (const dev of kids(devices)) {
        if (tagOf(dev) === 'disk' || tagOf(dev) === 'interface') setKids(dev, kids(dev).filter((c) => tagOf(c) !== 'boot'));
      }
    }
  });
}

/** Sets (or, with null, removes) the <source> of the first CD-ROM drive. */
export function setCdromSourceInXml(xml: string, isoPath: string | null): string {
  return edit(xml, (domain) => {
    const devices = need(domain, 'devices');
    const cd = find(devices, 'disk').find((d) => attrs(d)['@device'] === 'cdrom');
    if (!cd) throw new HypervisorError('invalid_state', 'domain has no CD-ROM drive');
    const rest = kids(cd).filter((c) => tagOf(c) !== 'source');
    if (isoPath !== null) {
      const targetIdx = rest.findIndex((c) => tagOf(c) === 'target');
      rest.splice(targetIdx < 0 ? rest.length : targetIdx, 0, el('source', { file: xmlSafeText(isoPath) }));
    }
    setKids(cd, rest);
  });
}

/** Sets the current vCPU count, raising the maximum when needed. */
export function setVcpusInXml(xml: string, vcpus: number): string {
  return edit(xml, (domain) => {
    const v = need(domain, 'vcpu');
    const max = Number(textOf(v).trim());
    if (vcpus >= max) {
      setText(v, String(vcpus));
      delete attrs(v)['@current'];
    } else attrs(v)['@current'] = String(vcpus);
  });
}

const UNIT_KIB: Record<string, number> = { KiB: 1, k: 1, MiB: 1024, M: 1024, GiB: 1024 * 1024, G: 1024 * 1024 };

/** Sets the current memory, raising the maximum when needed. */
export function setMemoryInXml(xml: string, memoryMb: number): string {
  const kib = memoryMb * 1024;
  return edit(xml, (domain) => {
    const mem = need(domain, 'memory');
    const maxKiB = Number(textOf(mem).trim()) * (UNIT_KIB[attrs(mem)['@unit'] ?? 'KiB'] ?? 1);
    if (kib > maxKiB) {
      setText(mem, String(kib));
      attrs(mem)['@unit'] = 'KiB';
    }
    for (const cur of find(domain, 'currentMemory')) {
      setText(cur, String(kib));
      attrs(cur)['@unit'] = 'KiB';
    }
  });
}
