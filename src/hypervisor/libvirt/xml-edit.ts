// Structured edits of an existing (inactive) domain definition, for changes libvirt has no
// dedicated call for in the binding: boot order, and the simulated media/vCPU/memory changes of
// the test driver. The XML is parsed into a DOM (xmlbuilder2), edited as elements, and serialized:
// never regexes or string search over XML.

import { create } from 'xmlbuilder2';
import { HypervisorError } from '../errors.js';
import type { BootDevice } from '../hypervisor.js';
import { validateBootOrder } from './domain-xml.js';

// Minimal structural view of the DOM that xmlbuilder2 exposes (@oozcitak/dom).
interface El {
  tagName: string;
  childNodes: ArrayLike<unknown>;
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
  appendChild(n: unknown): unknown;
  insertBefore(n: unknown, ref: unknown): unknown;
  removeChild(n: unknown): unknown;
  textContent: string | null;
  ownerDocument: { createElement(tag: string): El } | null;
}

function edit(xml: string, fn: (domain: El) => void): string {
  const doc = create(xml);
  const domain = doc.root().node as unknown as El;
  if (domain.tagName !== 'domain') throw new HypervisorError('operation_failed', 'not a domain definition');
  fn(domain);
  return doc.end({ headless: true, prettyPrint: true });
}

function children(el: El, tag: string): El[] {
  const out: El[] = [];
  for (const n of Array.from(el.childNodes)) {
    const e = n as Partial<El>;
    if (typeof e.tagName === 'string' && e.tagName === tag) out.push(e as El);
  }
  return out;
}

function child(el: El, tag: string): El {
  const c = children(el, tag)[0];
  if (!c) throw new HypervisorError('operation_failed', `domain definition has no <${tag}>`);
  return c;
}

function newEl(el: El, tag: string): El {
  const doc = el.ownerDocument;
  if (!doc) throw new HypervisorError('operation_failed', 'detached XML element');
  return doc.createElement(tag);
}

/** Replaces <os><boot dev=…/>… with `order` (placed right after <os><type>). */
export function setBootOrderInXml(xml: string, order: readonly BootDevice[]): string {
  validateBootOrder(order);
  return edit(xml, (domain) => {
    const os = child(domain, 'os');
    for (const b of children(os, 'boot')) os.removeChild(b);
    // Per-device <boot order=…> cannot be combined with <os><boot>: drop them too.
    const devices = children(domain, 'devices')[0];
    if (devices) {
      for (const dev of [...children(devices, 'disk'), ...children(devices, 'interface')]) {
        for (const b of children(dev, 'boot')) dev.removeChild(b);
      }
    }
    const type = children(os, 'type')[0];
    let ref: unknown = null;
    if (type) {
      const siblings = Array.from(os.childNodes);
      ref = siblings[siblings.indexOf(type) + 1] ?? null;
    }
    for (const dev of order) {
      const b = newEl(os, 'boot');
      b.setAttribute('dev', dev);
      if (ref) os.insertBefore(b, ref);
      else os.appendChild(b);
    }
  });
}

/** Sets (or, with null, removes) the <source> of the first CD-ROM drive. */
export function setCdromSourceInXml(xml: string, isoPath: string | null): string {
  return edit(xml, (domain) => {
    const devices = child(domain, 'devices');
    const cd = children(devices, 'disk').find((d) => d.getAttribute('device') === 'cdrom');
    if (!cd) throw new HypervisorError('invalid_state', 'domain has no CD-ROM drive');
    for (const s of children(cd, 'source')) cd.removeChild(s);
    if (isoPath !== null) {
      const src = newEl(cd, 'source');
      src.setAttribute('file', isoPath);
      const target = children(cd, 'target')[0];
      if (target) cd.insertBefore(src, target);
      else cd.appendChild(src);
    }
  });
}

/** Sets the current vCPU count, raising the maximum when needed. */
export function setVcpusInXml(xml: string, vcpus: number): string {
  return edit(xml, (domain) => {
    const v = child(domain, 'vcpu');
    const max = Number(v.textContent ?? '0');
    if (vcpus > max) {
      v.textContent = String(vcpus);
      v.removeAttribute('current');
    } else if (vcpus === max) v.removeAttribute('current');
    else v.setAttribute('current', String(vcpus));
  });
}

/** Sets the current memory, raising the maximum when needed. */
export function setMemoryInXml(xml: string, memoryMb: number): string {
  const kib = String(memoryMb * 1024);
  return edit(xml, (domain) => {
    const mem = child(domain, 'memory');
    const cur = children(domain, 'currentMemory')[0];
    const unitMult: Record<string, number> = { KiB: 1, k: 1, MiB: 1024, M: 1024, GiB: 1024 * 1024, G: 1024 * 1024 };
    const maxKiB = Number(mem.textContent ?? '0') * (unitMult[mem.getAttribute('unit') ?? 'KiB'] ?? 1);
    if (memoryMb * 1024 > maxKiB) {
      mem.textContent = kib;
      mem.setAttribute('unit', 'KiB');
    }
    if (cur) {
      cur.textContent = kib;
      cur.setAttribute('unit', 'KiB');
    }
  });
}
