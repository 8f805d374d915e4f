// buildApp(): Fastify + the platform plugins + each module, registered explicitly. Everything with
// a side effect arrives in `deps` (house rule 5), so tests build apps on PGlite and test:///.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import pino from 'pino';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config/config.js';
import type { Database } from './platform/db/db.js';
import { createMetrics, type Metrics } from './platform/metrics.js';
import { loggerOptions } from './platform/log.js';
import { registerErrorHandling } from './platform/http/error-handler.js';
import { registerSecurityHeaders } from './platform/http/security-headers.js';
import { registerHttpMetrics } from './platform/http/http-metrics.js';
import { clientErrorHandler } from './platform/http/raw-client-errors.js';
import { DEFAULT_SLOW_REQUEST_LIMITS, registerSlowRequestGuard, type SlowRequestLimits } from './platform/http/slow-requests.js';
import { registerOpenApi } from './platform/http/openapi.js';
import type { HostProbe } from './platform/host-metrics.js';
import { runLoop } from './platform/loop.js';
import { registerSystemRoutes, type HypervisorHealth } from './modules/system/index.js';
import fastifyWebsocket from '@fastify/websocket';
import { createDiskImages, createLibvirtDriver, type Accel, type DiskImages, type HypervisorDriver } from './hypervisor/index.js';
import { createHostRegistry, createHostsService, prepareHosts, registerHostsModule, type HostsService } from './modules/hosts/index.js';
import { healthOfDriver } from './hypervisor-wiring.js';
import { createEventHub, registerEventRoutes, withClusterFanout, type FanoutHub } from './modules/events/index.js';
import { openClusterSession, type ClusterSession } from './platform/db/cluster-session.js';
import { createIsosService, registerIsoRoutes } from './modules/isos/index.js';
import { noTemplates, registerVmModule, type TemplateSource, type VmAccess, type VmModuleOptions, type VmPolicy } from './modules/vms/index.js';
import { createQuotasService, createQuotaPolicy, registerQuotaDenialRecorder, registerQuotaRoutes } from './modules/quotas/index.js';
import { createConsolesService, registerConsoleRoutes, type ConsoleVmAccess } from './modules/consoles/index.js';
import { createSnapshotsService, registerSnapshotRoutes } from './modules/snapshots/index.js';
import { registerWebUi } from './modules/web/index.js';
import fastifyCookie from '@fastify/cookie';
import { createAuthService, registerAuthHook, registerAuthRoutes, type AuthService, type RouteAccess } from './modules/auth/index.js';
import { registerAuditRoutes } from './modules/audit/index.js';
import { registerUserAdminRoutes } from './modules/users/index.js';
import { registerBackupRoutes } from './modules/backups/index.js';
import { registerAlertRoutes } from './modules/alerts/index.js';
import { createGroupProvisioner, createGroupQuotaPolicy, createGroupsService, groupIdsOf, registerGroupRoutes } from './modules/groups/index.js';
import { registerTemplateModule } from './modules/templates/index.js';
import { registerSshKeyRoutes } from './modules/sshkeys/index.js';
import { registerScheduleModule, type ScheduleModuleOptions } from './modules/schedules/index.js';
import './platform/http/principal.js';

export interface AppDeps {
  config: Config;
  database: Database;
  /** The default host's hypervisor (tests: a test:/// driver of their own). */
  driver: HypervisorDriver;
  /** Health view of the driver; defaults to one derived from it (tests pass a switchable one). */
  hypervisor?: HypervisorHealth;
  /** qcow2 disk port (default: qemu-img). */
  disks?: DiskImages;
  /** Resolved accelerator (main resolves config 'auto'); default tcg unless config says kvm. */
  accel?: Accel;
  /** VM module tuning (tests shorten timeouts and loop periods). */
  vmOptions?: Omit<VmModuleOptions, 'disks' | 'accel'>;
  hostProbe: HostProbe;
  /** The console's view of VMs; default: the VM module's (tests: a fake VNC source). */
  consoleVmAccess?: ConsoleVmAccess;
  metrics?: Metrics;
  /** Where logs go; tests pass a capture stream. Defaults to stdout. */
  logStream?: DestinationStream;
  /** Host metrics refresh interval (contract: at least every 15 s). */
  hostSampleMs?: number;
  now?: () => Date;
  /** LISTEN/NOTIFY + advisory locks shared with other instances; default: opened on `database`. */
  cluster?: ClusterSession;
  /** Snapshot scheduler tuning: period (default 30 s) and its own clock (tests move it; tokens keep real time). */
  snapshotScheduler?: ScheduleModuleOptions;
  /** Driver for a host added through the hosts API (default: a libvirt driver for its URI). */
  createHostDriver?: (uri: string) => HypervisorDriver;
  /** Host watchdog period (default 5 s; tests shorten it). */
  hostWatchEveryMs?: number;
  /** Slow-client bounds (tests shorten them); default DEFAULT_SLOW_REQUEST_LIMITS. */
  slowRequestLimits?: Partial<SlowRequestLimits>;
}

export interface AppContext {
  config: Config;
  database: Database;
  metrics: Metrics;
  log: pino.Logger;
  hypervisor: HypervisorHealth;
  /** The default host's hypervisor driver. */
  driver: HypervisorDriver;
  /** Every hypervisor host: drivers (hosts.registry), placement, capacity, watchdog. */
  hosts: HostsService;
  /** Live VM events to websocket clients (of every instance: fanned out through NOTIFY). */
  events: FanoutHub;
  /** This instance's cluster session: leases for background loops, per-VM operation locks. */
  cluster: ClusterSession;
  /** Vetoes/reservations run inside VM create/start/resize transactions (quotas, capacity). */
  vmPolicies: VmPolicy[];
  /** Set by the VM module when it registers: ownership-checked VM access for other modules. */
  vmAccess: VmAccess;
  /** Set by the templates module: what VM creation may read of templates. */
  templates: TemplateSource;
  /**
   * Ids of the groups a user belongs to (template visibility 'group'), from the groups module.
   */
  groupsOf(db: import('./platform/db/query.js').Queryable, userId: string): Promise<string[]>;
  now: () => Date;
  /** Set during buildApp: authentication for modules that need it outside the HTTP hook (websockets). */
  auth: AuthService;
  /** Resources a user can own (VMs, …), registered by their modules: user deletion asks them. */
  userResources: UserResourceOwner[];
  /** Every guarded route and its access level (filled at registration; read by tests and docs). */
  routeTable: RouteAccess[];
  /** Aborted when the app closes: every background loop listens to it. */
  shutdown: AbortSignal;
}

declare module 'fastify' {
  interface FastifyInstance {
    limen: AppContext;
  }
}

export interface UserResourceOwner {
  name: string;
  count(userId: string): Promise<number>;
  /** Deletes every such resource of the user completely (e.g. VM: domain, disks, rows). */
  deleteAll(req: import('fastify').FastifyRequest, userId: string): Promise<void>;
}

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export async function buildApp(deps: AppDeps): Promise<App> {
  const { config } = deps;
  const metrics = deps.metrics ?? createMetrics({ version: config.version, commit: config.commit });
  const logger = pino(loggerOptions(config.logLevel), deps.logStream ?? process.stdout);
  const closing = new AbortController();
  const cluster = deps.cluster ?? (await openClusterSession(deps.database, { log: logger.child({ component: 'cluster' }) }));

  const app = Fastify({
    loggerInstance: logger,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    bodyLimit: 1024 * 1024,
    // X-Forwarded-* is trusted only from configured proxies (never from arbitrary peers).
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    return503OnClosing: true,
    forceCloseConnections: true,
    // malformed HTTP, oversized headers: answered in the contract's error shape too
    clientErrorHandler,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  const ctx: AppContext = {
    config,
    database: deps.database,
    metrics,
    log: logger,
    hypervisor: deps.hypervisor ?? healthOfDriver(deps.driver),
    driver: deps.driver,
    events: withClusterFanout(createEventHub({ log: logger }), cluster, logger),
    cluster,
    vmPolicies: [],
    vmAccess: undefined as unknown as VmAccess,
    hosts: undefined as unknown as HostsService,
    templates: noTemplates,
    groupsOf: groupIdsOf,
    now: deps.now ?? (() => new Date()),
    shutdown: closing.signal,
    auth: undefined as unknown as AuthService,
    userResources: [],
    routeTable: [],
  };
  app.decorate('limen', ctx);

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  registerErrorHandling(app);
  registerSlowRequestGuard(app, { ...DEFAULT_SLOW_REQUEST_LIMITS, ...deps.slowRequestLimits });
  await app.register(fastifyCookie);
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  const auth = createAuthService(ctx);
  ctx.auth = auth;
  registerAuthHook(app, auth, ctx.routeTable);
  registerSecurityHeaders(app, { docsPrefix: '/api/docs' });
  registerHttpMetrics(app, metrics);
  await registerOpenApi(app, { version: config.version });

  await app.register(registerSystemRoutes(ctx));
  await app.register(registerAuthRoutes(ctx, auth));
  await app.register(registerUserAdminRoutes(ctx));
  await app.register(registerAuditRoutes(ctx));
  await app.register(registerBackupRoutes(ctx));
  await app.register(registerEventRoutes(ctx, ctx.events));
  await app.register(registerIsoRoutes(ctx, createIsosService(ctx)));
  const hostLog = logger.child({ component: 'hypervisor' });
  ctx.hosts = createHostsService(ctx, {
    registry: createHostRegistry({ defaultDriver: deps.driver, createDriver: deps.createHostDriver ?? ((uri) => createLibvirtDriver({ uri, logger: hostLog })), log: hostLog }),
    policy: config.placementPolicy,
    disksDir: join(config.dataDir, 'disks'),
  });
  await prepareHosts(ctx, ctx.hosts, deps.driver.uri);
  await app.register(registerHostsModule(ctx, ctx.hosts, { watchEveryMs: deps.hostWatchEveryMs }));
  const quotas = createQuotasService(ctx);
  ctx.vmPolicies.push(createQuotaPolicy(ctx, { quotas, hostCapacity: (host, tx) => ctx.hosts.capacity(host, tx) }));
  // after the quotas policy: owner's quota lock first, then the group's (one lock order)
  ctx.vmPolicies.push(createGroupQuotaPolicy());
  registerQuotaDenialRecorder(app, ctx);
  await app.register(registerQuotaRoutes(ctx, quotas));
  const disks = deps.disks ?? createDiskImages();
  await app.register(registerVmModule(ctx, { disks, accel: deps.accel ?? (config.vmAccel === 'kvm' ? 'kvm' : 'tcg'), ...deps.vmOptions }));
  await app.register(registerSshKeyRoutes(ctx));
  await app.register(
    registerTemplateModule(ctx, {
      disks,
      enforceDisk: async (tx, owner, gb) => quotas.enforce(tx, { id: owner.id, role: owner.role }, { disk_gb: gb }),
      reconcileEveryMs: deps.vmOptions?.reconcileEveryMs,
    }),
  );
  await app.register(registerAlertRoutes(ctx));
  const snapshots = createSnapshotsService(ctx, { ...ctx.vmAccess, driverFor: (host) => ctx.hosts.registry.driverFor(host) }, quotas);
  await app.register(registerSnapshotRoutes(snapshots));
  const groups = createGroupsService(ctx);
  await app.register(registerGroupRoutes(ctx, groups, snapshots, createGroupProvisioner(ctx, quotas)));
  await app.register(registerScheduleModule(ctx, snapshots, deps.snapshotScheduler));
  const consoles = createConsolesService(ctx, deps.consoleVmAccess ?? {
    getVm: (p, uuid) => ctx.vmAccess.loadVmFor(p, uuid),
    vncEndpoint: async (vm) => {
      const driver = ctx.hosts.registry.driverFor(vm.host);
      const endpoint = await driver.getVncEndpoint(vm.uuid);
      // the host's URI decides the way in (direct, ssh tunnel, refused): consoles/vnc-route.ts
      return endpoint && { ...endpoint, hostUri: driver.uri };
    },
    onVmState: (cb) =>
      ctx.hosts.registry.subscribe((_host, e) => {
        if ((e.type === 'suspended' || e.type === 'stopped') && e.detail === 'Migrated') cb(e.uuid, 'migrated');
        else if (e.type === 'stopped' || e.type === 'shutdown' || e.type === 'crashed' || e.type === 'undefined' || e.type === 'suspended') cb(e.uuid, e.type);
      }),
  });
  await app.register(registerConsoleRoutes(ctx, consoles));
  // Last: the UI catch-all must not shadow API routes.
  await app.register(registerWebUi());

  // Host gauges must be fresh within 30 s of start: sample now, then every 10 s.
  const loops = [
    runLoop({
      name: 'host-metrics',
      everyMs: deps.hostSampleMs ?? 10_000,
      signal: closing.signal,
      log: logger,
      metrics,
      tick: async () => {
        const s = await deps.hostProbe.sample();
        metrics.hostCpu.set(s.cpuPercent);
        metrics.hostMemory.set(s.memoryPercent);
        metrics.hostDisk.set(s.diskPercent);
      },
    }),
    // Settles snapshot rows a crash left mid-operation and drops rows whose snapshot vanished.
    runLoop({
      name: 'snapshot-reconciler',
      everyMs: 10_000,
      signal: closing.signal,
      log: logger,
      metrics,
      tick: async () => {
        if (await cluster.lead('loop:snapshot-reconciler:default')) await snapshots.reconcile((uuid) => ctx.vmAccess.isBusy(uuid));
      },
    }),
    runLoop({
      name: 'dependency-probe',
      everyMs: 5_000,
      signal: closing.signal,
      log: logger,
      metrics,
      tick: async () => {
        metrics.databaseUp.set((await deps.database.ping(2000)) ? 1 : 0);
        metrics.libvirtConnection.set({ host: ctx.hypervisor.hostName }, (await ctx.hypervisor.ping(2000)) ? 1 : 0);
      },
    }),
  ];

  app.addHook('onClose', async () => {
    closing.abort();
    ctx.events.close();
    await Promise.all(loops.map((l) => l.stopped));
    // the abort above closed every console; their ssh tunnel processes are gone before we return
    await consoles.tunnelsGone();
    if (!deps.cluster) await cluster.close();
  });
  return app;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route: checked by the auth hook; every /api route must declare it. */
    auth?: 'public' | 'user' | 'admin' | 'pending' | 'webhook';
  }
}
