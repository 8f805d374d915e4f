// GET/POST /api/admin/backups (admins, CONTRACT.md §4) and /api/operator/backups (the local CLI,
// authenticated by the operator token over loopback: see local-secrets.ts and docs/backup.md).
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import type { AppContext } from '../../app.js';
import type { HypervisorDriver } from '../../hypervisor/index.js';
import { AppError, notFound, unauthorized } from '../../platform/http/app-error.js';
import { audit } from '../audit/audit.service.js';
import { createBackupService, toApiBackup } from './backups.service.js';
import { ensureDrillAccount, ensureOperatorToken } from './local-secrets.js';

const Backup = Type.Object({
  id: Type.String({ format: 'uuid' }),
  status: Type.Union([Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed'), Type.Literal('interrupted')]),
  file: Type.Union([Type.String(), Type.Null()]),
  size_bytes: Type.Union([Type.Integer(), Type.Null()]),
  origin: Type.String(),
  requested_by: Type.Union([Type.String(), Type.Null()]),
  with_isos: Type.Boolean(),
  vm_count: Type.Union([Type.Integer(), Type.Null()]),
  progress: Type.Record(Type.String(), Type.Unknown()),
  error: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  completed_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  duration_ms: Type.Union([Type.Integer(), Type.Null()]),
  verified_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  verified: Type.Union([Type.Boolean(), Type.Null()]),
});

const CreateBody = Type.Object({ with_isos: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
const OperatorBody = Type.Object(
  {
    with_isos: Type.Optional(Type.Boolean()),
    out_dir: Type.Optional(Type.String({ pattern: '^/', maxLength: 4096 })),
    keep: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), drill_account: Type.Optional(Type.Boolean()), secrets_passphrase: Type.Optional(Type.String({ minLength: 8, maxLength: 1024 })), origin: Type.Optional(Type.Union([Type.Literal('cli'), Type.Literal('drill')])) },
  { additionalProperties: false },
);
const ListQuery = Type.Object(
  { page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,5}$' })), per_page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$' })) },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

const isLoopback = (addr: string | undefined): boolean => addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';

export function registerBackupRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    // The VM module puts the default host's driver on the context; until then backups hold the
    // database, disks and ISO list but no domain definitions.
    const driver = (): HypervisorDriver | undefined => (ctx as unknown as { driver?: HypervisorDriver }).driver;
    const driverFor = (host: string): HypervisorDriver | undefined => (ctx.hosts?.registry.has(host) ? ctx.hosts.registry.driverFor(host) : undefined);
    const backups = createBackupService({ config: ctx.config, database: ctx.database, driver, driverFor, log: ctx.log, events: ctx.events, locks: ctx.cluster });
    const operatorToken = ensureOperatorToken(ctx.config.dataDir);
    // A backup never outlives its process: rows a previous process left running are interrupted,
    // their partial files removed, and the VM one had paused resumed — once the app is ready, when
    // every host's driver is registered (the hosts module comes after this one).
    const paused = await backups.recoverInterrupted().catch((err: unknown) => {
      ctx.log.warn({ err }, 'recovering interrupted backups failed');
      return [];
    });
    if (paused.length > 0) app.addHook('onReady', () => backups.resumePaused(paused));

    const checkOperator = async (req: FastifyRequest): Promise<void> => {
      const h = req.headers.authorization ?? '';
      const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7).trim() : '');
      const want = Buffer.from(operatorToken);
      if (given.length !== want.length || !timingSafeEqual(given, want)) throw unauthorized('Operator token required');
      if (!isLoopback(req.socket.remoteAddress)) throw new AppError('FORBIDDEN', 'The operator API answers on loopback only');
    };

    app.get(
      '/api/admin/backups',
      { config: { auth: 'admin' }, schema: { tags: ['admin'], summary: 'Backups, newest first', security: [{ bearer: [] }], querystring: ListQuery, response: { 200: Type.Object({ items: Type.Array(Backup), total: Type.Integer() }) } } },
      async (req) => {
        const q = req.query as { page?: string; per_page?: string };
        const perPage = Math.min(200, Number(q.per_page ?? 50));
        const r = await backups.list(perPage, (Number(q.page ?? 1) - 1) * perPage);
        return { items: r.items.map(toApiBackup), total: r.total };
      },
    );

    app.post(
      '/api/admin/backups',
      { config: { auth: 'admin' }, schema: { tags: ['admin'], summary: 'Start a backup in the background (progress in the list)', security: [{ bearer: [] }], body: CreateBody, response: { 202: Backup } } },
      async (req, reply) => {
        const body = (req.body ?? {}) as { with_isos?: boolean };
        const row = await backups.start({ origin: 'api', requestedBy: req.principal?.id ?? null, withIsos: body.with_isos ?? false });
        await audit(ctx.database.db, req, { action: 'backup.create', targetType: 'backup', targetId: row.id, result: 'success', details: { with_isos: body.with_isos ?? false } });
        return reply.code(202).send(toApiBackup(row));
      },
    );

    app.post(
      '/api/operator/backups',
      { config: { auth: 'webhook' }, onRequest: checkOperator, schema: { tags: ['operator'], summary: 'Local CLI: start a backup (operator token, loopback only)', security: [{ bearer: [] }], body: OperatorBody, response: { 202: Backup } } },
      async (req, reply) => {
        const body = req.body as { with_isos?: boolean; out_dir?: string; keep?: number; drill_account?: boolean; origin?: 'cli' | 'drill'; secrets_passphrase?: string };
        // The drill account must be in the live data before the backup is taken (it is what the drill logs in with).
        if (body.drill_account) await ensureDrillAccount(ctx.database.db, ctx.config.dataDir);
        const row = await backups.start({ origin: body.origin ?? 'cli', requestedBy: null, withIsos: body.with_isos ?? false, outDir: body.out_dir, keep: body.keep, secretsPassphrase: body.secrets_passphrase });
        await audit(ctx.database.db, req, { action: 'backup.create', targetType: 'backup', targetId: row.id, result: 'success', actor: null, details: { origin: body.origin ?? 'cli', with_secrets: body.secrets_passphrase !== undefined } });
        return reply.code(202).send(toApiBackup(row));
      },
    );

    app.get(
      '/api/operator/backups/:id',
      { config: { auth: 'webhook' }, onRequest: checkOperator, schema: { tags: ['operator'], summary: 'Local CLI: one backup and its progress', security: [{ bearer: [] }], params: IdParams, response: { 200: Backup } } },
      async (req) => {
        const row = await backups.get((req.params as { id: string }).id);
        if (!row) throw notFound('Backup');
        return toApiBackup(row);
      },
    );
  };
}
