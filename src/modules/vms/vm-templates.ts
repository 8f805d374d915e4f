// The port through which VM creation reads templates (set on ctx.templates by the templates
// module, which itself uses the VM module: this keeps the dependency one-way at import time).
import type { Tx } from '../../platform/db/db.js';
import type { Principal } from '../../platform/http/principal.js';
import { notFound } from '../../platform/http/app-error.js';

/** A ready template as a clone sees it. */
export interface CloneSource {
  id: string;
  name: string;
  /** the read-only base image ($LIMEN_DATA_DIR/templates/<id>.qcow2) */
  basePath: string;
  /** clones get a cloud-init NoCloud seed ISO */
  cloudInit: boolean;
  minVcpus: number;
  minMemoryMb: number;
  minDiskGb: number;
  virtualSizeBytes: number;
}

export interface TemplateSource {
  /**
   * Inside the creating transaction: the template, locked FOR SHARE (a concurrent delete waits for
   * the clone rows, then sees them), if it is ready and visible to `actor`; otherwise NOT_FOUND.
   */
  forClone(tx: Tx, actor: Principal, templateId: string): Promise<CloneSource>;
  /** Base image path of a template (provisioning, backups); null when it no longer exists. */
  basePathOf(templateId: string): Promise<string | null>;
}

/** Until the templates module registers: no template exists. */
export const noTemplates: TemplateSource = {
  forClone: async () => {
    throw notFound('Template');
  },
  basePathOf: async () => null,
};
