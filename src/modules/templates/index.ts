// The templates module: base images VMs are cloned from. Registers the routes, sets ctx.templates
// (what VM creation reads) and runs the reconciler that removes interrupted creations.
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../../app.js';
import type { DiskImages } from '../../hypervisor/index.js';
import { startLeasedLoop } from '../../platform/loop.js';
import { ensureTemplatesDir, templatesDirOf } from './template-files.js';
import { registerTemplateRoutes } from './templates.routes.js';
import { createTemplatesService, type TemplatesDeps } from './templates.service.js';

export { type TemplatesService, type TemplateMeta } from './templates.service.js';
export { TemplateDto, toTemplateDto } from './templates.routes.js';
export { type TemplateRecord, type TemplateVisibility, findTemplate, listTemplatesInState } from './templates.repo.js';
export { templatesDirOf, basePathFor } from './template-files.js';
export { canSee } from './template-rules.js';

export const TEMPLATE_RECONCILER_LEASE = 'loop:template-reconciler';

export function registerTemplateModule(ctx: AppContext, opts: { disks: DiskImages; enforceDisk: TemplatesDeps['enforceDisk']; reconcileEveryMs?: number }): FastifyPluginAsync {
  return async (app) => {
    const templatesDir = templatesDirOf(ctx.config.dataDir);
    await ensureTemplatesDir(templatesDir).catch((err: unknown) => ctx.log.warn({ err, dir: templatesDir }, 'cannot prepare the templates directory'));
    const templates = createTemplatesService(ctx, { disks: opts.disks, templatesDir, enforceDisk: opts.enforceDisk });
    ctx.templates = templates.source;

    const loop = startLeasedLoop(ctx, {
      name: 'template-reconciler',
      everyMs: opts.reconcileEveryMs ?? 30_000,
      lease: TEMPLATE_RECONCILER_LEASE,
      tick: () => templates.reconcile(),
    });
    app.addHook('onClose', async () => {
      const stopped = loop.stop();
      await templates.idle();
      await stopped;
    });

    await app.register(registerTemplateRoutes(ctx, templates));
  };
}
