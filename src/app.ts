/**
 * The single-process composition root (main.ts calls it; integration tests call it in-process). It only wires:
 * config -> metrics -> secrets and tokens (app/minting.ts) -> tenant registry -> Check server (app/check-serving.ts)
 * -> readiness (app/readiness.ts) and /readyz /metrics -> config reload (app/reload.ts). The cluster primary and its
 * workers wire the same modules, split between them (cluster/primary.ts, cluster/worker.ts).
 * Nothing here reads process.env: environment-sourced values come in through `env`.
 */
import type { Logger } from "pino";
import type { Authorizer } from "./authz/authorizer.js";
import type { Config } from "./config/index.js";
import { createMetrics, type Metrics } from "./observability/metrics.js";
import type { CachedSecretStore } from "./secrets/cached-secret-store.js";
import type { VaultSession } from "./secrets/vault-session.js";
import type { RunningServer } from "./server/grpc-server.js";
import { startHttpServer, type RunningHttpServer } from "./server/http-server.js";
import type { TenantRegistry } from "./tenants/registry.js";
import type { TokenProvider } from "./tokens/token-provider.js";
import { startCheckServing } from "./app/check-serving.js";
import { evictTenant } from "./app/evict.js";
import { buildMinting } from "./app/minting.js";
import { budgetDetail, startBudget } from "./app/budget.js";
import type { RequestBudget } from "./budget/request-budget.js";
import { AppReadiness } from "./app/readiness.js";
import { buildRegistry } from "./app/registry.js";
import { watchReload } from "./app/reload.js";

export { buildSecretStore, buildTokenEndpoint } from "./app/minting.js";

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** When given (and reload.watch is on), valid changes to this file are applied without a restart. */
  readonly configPath?: string | undefined;
  /** Process-wide default metrics (event loop, memory); off in tests that start several apps. */
  readonly defaultMetrics?: boolean;
}

/** What main.ts holds of a running single process or cluster: operator eviction and shutdown. */
export interface Running {
  /** Operator eviction (admin socket): drop the tenant's cached token, its encoded answers and its secret record. */
  evict(tenantId: string): boolean;
  /** With a fleet (config fleet.tokens): tell every replica (Redis); "unreachable" when Redis cannot be told. */
  evictInFleet?(tenantId: string): Promise<"evicted" | "unreachable" | "no_store">;
  /** Stops within the config's shutdown.graceMs (and drainMs); tests may pass shorter ones. */
  stop(graceMs?: number, drainMs?: number): Promise<void>;
}

export interface App extends Running {
  readonly authorizer: Authorizer;
  readonly tokens: TokenProvider;
  readonly secrets: CachedSecretStore;
  readonly registry: TenantRegistry;
  readonly vault: VaultSession | undefined;
  readonly server: RunningServer;
  readonly http: RunningHttpServer | undefined;
  readonly metrics: Metrics;
  /** The per-tenant request budget (config budgets), if any. */
  readonly budget: RequestBudget | undefined;
  /** Resolves once the secret store has answered (readiness). */
  readonly ready: Promise<void>;
  /** Apply a new config: tenants and route/tenant-header rules swap atomically; other changes need a restart. */
  applyConfig(next: Config): void;
}

export async function startApp(deps: AppDeps): Promise<App> {
  const { config, logger } = deps;
  const metrics = createMetrics({ ...config.metrics, defaultMetrics: deps.defaultMetrics ?? true });
  const minting = await buildMinting(deps, metrics);
  const { secrets, tokens } = minting;
  const registry = buildRegistry(config, secrets);
  const evict = (tenantId: string): boolean => evictTenant({ tokens, secrets, registry }, tenantId);
  minting.fleet?.bind(tokens, evict);
  // One Redis connection per process: the budget's leases use the fleet's connection when there is one.
  const budgeting = await startBudget({ config, logger, observer: metrics.budget, redis: minting.fleet?.redis });
  const { budget } = budgeting;
  const check = await startCheckServing({ config, logger, metrics, registry, tokens, budget });
  const { server } = check;

  // Ready (gRPC health SERVING, /readyz 200) once config is loaded and the secret store has answered once.
  const readiness = new AppReadiness({
    store: minting.store,
    logger,
    listen: config.listen,
    budget: () => budgetDetail(budget),
    fleet: minting.fleet,
  });
  const ready = readiness.storeAnswered.then(() => {
    if (!readiness.shuttingDown) server.setServing(true);
  });
  const http = config.http.listen
    ? await startHttpServer({ listen: config.http.listen, registry: metrics.registry, readiness, isShuttingDown: () => readiness.shuttingDown })
    : undefined;
  const watcher = watchReload({ configPath: deps.configPath, startedWith: config, logger, metrics, readiness, apply: (next) => check.applyConfig(next) });

  logger.info({ tcpPort: server.tcpPort, unixSocket: server.unixSocket, httpPort: http?.port, tenants: config.tenants.length }, "scopegate listening");
  return {
    authorizer: check.authorizer,
    tokens,
    secrets,
    registry,
    vault: minting.vault,
    server,
    http,
    metrics,
    budget,
    ready,
    applyConfig: (next) => check.applyConfig(next),
    evict,
    ...(minting.fleet ? { evictInFleet: (tenantId: string) => minting.fleet!.evict(tenantId) } : {}),
    async stop(graceMs = config.shutdown.graceMs, drainMs = config.shutdown.drainMs) {
      readiness.beginShutdown();
      watcher?.close();
      await check.stop(graceMs, drainMs);
      await http?.close();
      await budgeting.close();
      await minting.close();
    },
  };
}
