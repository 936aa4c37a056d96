/**
 * Builds a running scopegate from a validated config: logger -> secret store -> registry -> tokens ->
 * authorizer -> gRPC server. main.ts calls this; integration tests call it in-process.
 * Nothing here reads process.env: environment-sourced values come in through `env`.
 */
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { Authorizer, type AuthzPolicy } from "./authz/authorizer.js";
import type { CheckOutcome } from "./authz/authorizer.js";
import { isDenial } from "./authz/deny-reasons.js";
import { buildProfileRoutes } from "./authz/profile-routes.js";
import { buildEnvironments, checkListenerAuth, watchConfigFile, type Config } from "./config/index.js";
import { decisionLogger, roundMs } from "./observability/decision-log.js";
import { GatewayTokens } from "./gateway/gateway-tokens.js";
import { loadKeysFile, watchKeysFile } from "./gateway/keys-file.js";
import { createMetrics, type Metrics } from "./observability/metrics.js";
import { startHttpServer, type Readiness, type RunningHttpServer } from "./server/http-server.js";
import { CachedSecretStore } from "./secrets/cached-secret-store.js";
import { FileSecretStore } from "./secrets/file-secret-store.js";
import type { SecretStore } from "./secrets/secret-store.js";
import type { SecretSource, VaultSession } from "./secrets/vault-session.js";
import { startGrpcServer, type RunningServer } from "./server/grpc-server.js";
import { TenantRegistry } from "./tenants/registry.js";
import { compileTenantIdPattern } from "./tenants/tenant-id.js";
import { HttpTokenEndpoint } from "./tokens/token-endpoint.js";
import { TokenProvider, type TokenSource } from "./tokens/token-provider.js";

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** When given (and reload.watch is on), valid changes to this file are applied without a restart. */
  readonly configPath?: string;
  /** Process-wide default metrics (event loop, memory); off in tests that start several apps. */
  readonly defaultMetrics?: boolean;
  /** Multi-worker mode (src/cluster): where checks get tokens instead of this process's own TokenProvider. */
  readonly tokenSource?: (local: TokenProvider) => TokenSource;
}

export interface App {
  readonly authorizer: Authorizer;
  readonly tokens: TokenProvider;
  readonly secrets: CachedSecretStore;
  readonly registry: TenantRegistry;
  readonly vault: VaultSession | undefined;
  readonly server: RunningServer;
  readonly http: RunningHttpServer | undefined;
  readonly metrics: Metrics;
  /** Resolves once the secret store has answered (readiness). */
  readonly ready: Promise<void>;
  /** Apply a new config: tenants and route/tenant-header rules swap atomically; other changes need a restart. */
  applyConfig(next: Config): void;
  /** Operator eviction (admin socket): drop the tenant's cached token, its encoded answers and its secret record. */
  evict(tenantId: string): boolean;
  stop(graceMs?: number, drainMs?: number): Promise<void>;
}

/** The token endpoint client, with the configured CA bundle (serve and check-config --probe alike). */
export async function buildTokenEndpoint(config: Config): Promise<HttpTokenEndpoint> {
  const caPem = config.tokens.caFile ? await readFile(config.tokens.caFile, "utf8") : undefined;
  return new HttpTokenEndpoint({ timeoutMs: config.tokens.requestTimeoutMs, caPem });
}

export async function buildSecretStore(deps: AppDeps): Promise<{ store: SecretStore; vault: VaultSession | undefined }> {
  const { config, logger } = deps;
  if (config.secrets.backend === "file") {
    return { store: new FileSecretStore(config.secrets.file!.directory), vault: undefined };
  }
  const v = config.secrets.vault!;
  const readSecret: SecretSource = async (ref) => {
    if (ref.file) return readFile(ref.file, "utf8");
    const value = ref.env ? deps.env[ref.env] : undefined;
    if (!value) throw new Error(`environment variable ${ref.env} is not set`);
    return value;
  };
  const caPem = v.caFile ? await readFile(v.caFile, "utf8") : undefined;
  // Loaded only for the vault backend: node-vault and axios add ~2 MB of heap that a file-backed process never uses.
  const [{ VaultSession }, { VaultSecretStore }] = await Promise.all([import("./secrets/vault-session.js"), import("./secrets/vault-secret-store.js")]);
  const vault = new VaultSession({ config: v, readSecret, logger, caPem });
  return { store: new VaultSecretStore(vault, v.kvMount, v.tenantPrefix, logger), vault };
}

export async function startApp(deps: AppDeps): Promise<App> {
  const { logger } = deps;
  let config = deps.config;
  const metrics = createMetrics({ ...config.metrics, defaultMetrics: deps.defaultMetrics ?? true });
  const { store, vault } = await buildSecretStore(deps);
  const secrets = new CachedSecretStore(store, {
    ttlMs: config.secrets.cacheTtlSeconds * 1000,
    negativeTtlMs: config.discovery.negativeCacheSeconds * 1000,
    maxStaleMs: config.secrets.maxStaleSeconds * 1000,
    max: config.tokens.maxTenants + config.discovery.maxNegativeEntries,
    loadTimeoutMs: config.secrets.vault?.requestTimeoutMs ?? 2000,
    onLoad: (outcome, ms) => metrics.secretRead(outcome, ms),
  });
  const endpoint = await buildTokenEndpoint(config);
  const tokens = new TokenProvider({
    endpoint,
    secrets,
    skewSeconds: config.tokens.skewSeconds,
    refreshAt: config.tokens.refreshAt,
    max: config.tokens.maxTenants,
    requestTimeoutMs: config.tokens.requestTimeoutMs,
    rejectedBackoffSeconds: config.tokens.rejectedBackoffSeconds,
    ...(config.tokens.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: config.tokens.maxAgeSeconds }),
    onTokenRequest: (tenant, outcome, durationMs) => {
      metrics.tokenRequest(outcome, durationMs);
      logger[outcome === "ok" ? "debug" : "warn"]({ tenant, outcome, durationMs: roundMs(durationMs) }, "token request");
    },
    onRefresh: () => metrics.tokenRefresh(),
  });
  const registry = new TenantRegistry(config.tenants, buildEnvironments(config.environments), {
    enabled: config.discovery.fromSecretStore,
    store: secrets,
    defaultBinding: config.discovery.defaultBinding,
  });
  if (config.allowPlainHttpLoopbackForTesting) {
    logger.warn("allowPlainHttpLoopbackForTesting is on: token URLs may be plain http to loopback. Never use this outside tests.");
  }
  // Gateway login: the keys must be readable at start (fail fast); later a bad file keeps the keys in use.
  const gateway = config.gatewayTokens ? new GatewayTokens(await loadKeysFile(config.gatewayTokens.keysFile), config.gatewayTokens.ttlSeconds) : undefined;
  const keysWatcher =
    gateway && config.gatewayTokens
      ? watchKeysFile(config.gatewayTokens.keysFile, {
          pollIntervalMs: config.reload.pollIntervalMs,
          onValid: (ring) => {
            gateway.replaceKeys(ring);
            logger.info({ keyIds: [...ring.keys.keys()], current: ring.current }, "gateway token keys reloaded");
          },
          onInvalid: (problems) => logger.error({ problems }, "gateway token keys file rejected; keeping the keys in use"),
        })
      : undefined;
  const authorizer = new Authorizer({ ...policyFrom(config), registry, tokens: deps.tokenSource?.(tokens) ?? tokens, gateway });
  const logDecision = decisionLogger(logger, config.logging.decisions);
  const tls = config.listen.tls
    ? {
        cert: await readFile(config.listen.tls.certFile),
        key: await readFile(config.listen.tls.keyFile),
        clientCa: config.listen.tls.clientCaFile ? await readFile(config.listen.tls.clientCaFile) : undefined,
        allowedClients: config.listen.tls.allowedClients,
      }
    : undefined;
  const server = await startGrpcServer({
    authorizer,
    observe: (o, ms) => {
      metrics.observeCheck(o, ms);
      logDecision(o, ms);
    },
    listen: { ...config.listen, tls },
    defaultBudgetMs: 5000,
    // Once per refused certificate; every refused call also gets its own decision line (check_caller_not_allowed).
    onRefusedCaller: (c) => logger.warn({ sans: c.sans, fingerprint256: c.fingerprint256 }, "Check caller refused: TLS client certificate not in listen.tls.allowedClients"),
  });
  const listenerAuth = checkListenerAuth(config.listen);
  warnAboutCheckListener(logger, config.listen);
  metrics.setCheckListenerUnauthenticated(listenerAuth === "unauthenticated-tcp");

  // Ready (gRPC health SERVING, /readyz 200) once config is loaded and the secret store has answered once.
  let storeAnswered = false;
  let lastReloadProblems: readonly string[] | undefined;
  let shuttingDown = false;
  const ready = waitForStore(store, logger, () => shuttingDown).then(() => {
    storeAnswered = true;
    if (!shuttingDown) server.setServing(true);
  });
  const readiness: Readiness = {
    notReadyReason: () => (storeAnswered ? undefined : "secret_store_not_answered"),
    detail: () => ({
      ...(lastReloadProblems ? { configReload: "rejected", problems: lastReloadProblems } : {}),
      ...checkListenerDetail(listenerAuth),
    }),
  };
  const http = config.http.listen
    ? await startHttpServer({ listen: config.http.listen, registry: metrics.registry, readiness, isShuttingDown: () => shuttingDown })
    : undefined;

  const startedWith = config;
  const applyConfig = (next: Config): void => {
    // Compared with what the process runs (the config it started with), not the previous file.
    const restartNeeded = RESTART_ONLY_KEYS.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(startedWith[k]));
    if (restartNeeded.length > 0) logger.warn({ keys: restartNeeded }, "config change needs a restart to take effect");
    registry.replace(next.tenants, buildEnvironments(next.environments));
    authorizer.updatePolicy(policyFrom(next));
    config = next;
  };
  const watcher =
    deps.configPath && config.reload.watch
      ? watchConfigFile(deps.configPath, {
          pollIntervalMs: config.reload.pollIntervalMs,
          onValid: (next) => {
            applyConfig(next);
            lastReloadProblems = undefined;
            metrics.configReload("ok");
            metrics.setConfigValid(true);
            logger.info({ tenants: next.tenants.length }, "config reloaded");
          },
          onInvalid: (problems) => {
            lastReloadProblems = problems;
            metrics.configReload("invalid");
            metrics.setConfigValid(false);
            logger.error({ problems }, "config reload rejected; keeping the last good config");
          },
        })
      : undefined;

  logger.info({ tcpPort: server.tcpPort, unixSocket: server.unixSocket, httpPort: http?.port, tenants: config.tenants.length }, "scopegate listening");
  return {
    authorizer,
    tokens,
    secrets,
    registry,
    vault,
    server,
    http,
    metrics,
    ready,
    applyConfig,
    evict: (tenantId) => evictTenant({ tokens, secrets, registry }, tenantId),
    async stop(graceMs = startedWith.shutdown.graceMs, drainMs = startedWith.shutdown.drainMs) {
      shuttingDown = true;
      watcher?.close();
      keysWatcher?.close();
      await server.shutdown(graceMs, drainMs);
      await http?.close();
      vault?.close();
      endpoint.close();
    },
  };
}

/** Changing these needs a new process (listeners, secret backend, cache sizes). */
const RESTART_ONLY_KEYS = ["listen", "admin", "http", "secrets", "tokens", "discovery", "metrics", "logging", "reload", "shutdown", "workers", "gatewayTokens"] as const;

function policyFrom(config: Config): AuthzPolicy {
  return {
    tenantId: { header: config.tenantHeader, pattern: compileTenantIdPattern(config.tenantIdPattern) },
    callers: {
      mode: config.callers.mode,
      principalTenants: new Map(Object.entries(config.callers.principalTenants)),
      trustDomain: config.callers.trustDomain,
      localIdentity: config.callers.localIdentity,
    },
    stripTenantHeader: config.stripTenantHeader,
    egress: config.egress,
    // Config `routes` is the genesys-cloud profile's; other profiles keep their built-in tables.
    routes: buildProfileRoutes({ "genesys-cloud": { ...config.routes, allowListOnly: config.routes.mode === "allow-list" } }),
  };
}

/**
 * A loud line at start when Check is reachable over TCP by callers that show no client certificate: whoever
 * reaches the port can obtain any tenant's token. Stable messages (alerts may match them).
 */
export function warnAboutCheckListener(logger: Logger, listen: Config["listen"]): void {
  const auth = checkListenerAuth(listen);
  if (auth === "unauthenticated-tcp") {
    logger.error({ tcp: listen.tcp, checkListener: auth }, "UNAUTHENTICATED CHECK LISTENER: anything that can reach listen.tcp can obtain any tenant's token; set listen.tls.clientCaFile and listen.tls.allowedClients, or serve Check on the unix socket only");
  } else if (auth === "any-client-certificate") {
    logger.warn({ tcp: listen.tcp, checkListener: auth }, "Check listener accepts any client certificate from listen.tls.clientCaFile; set listen.tls.allowedClients to the Envoy identities");
  }
}

/** /readyz detail: a warning, not unreadiness (the listener works; it is just open to more callers than Envoy). */
export function checkListenerDetail(auth: ReturnType<typeof checkListenerAuth>): Record<string, string> {
  return auth === "unauthenticated-tcp" || auth === "any-client-certificate" ? { checkListener: auth } : {};
}

/** Drops what scopegate remembers about one tenant; true if a token was cached. The next check mints anew. */
function evictTenant(deps: { tokens: TokenProvider; secrets: CachedSecretStore; registry: TenantRegistry }, tenantId: string): boolean {
  const known = deps.registry.peek(tenantId);
  const credentialsKey = known !== undefined && !isDenial(known) ? known.credentialsKey : tenantId;
  const hadToken = deps.tokens.evict(tenantId);
  deps.secrets.evict(credentialsKey);
  if (credentialsKey !== tenantId) deps.secrets.evict(tenantId);
  return hadToken;
}

/** Any answer (found or not_found) proves the store is reachable and we are authorised to ask. */
async function waitForStore(store: SecretStore, logger: Logger, stopped: () => boolean): Promise<void> {
  for (let attempt = 0; !stopped(); attempt++) {
    const r = await store.read(READINESS_PROBE_KEY, AbortSignal.timeout(5000));
    if (r.kind !== "unavailable") return;
    if (attempt % 10 === 0) logger.warn({ detail: r.detail }, "secret store not answering yet; not ready");
    await new Promise((res) => setTimeout(res, Math.min(5000, 200 * 2 ** Math.min(attempt, 5))).unref());
  }
}

const READINESS_PROBE_KEY = "scopegate-readiness-probe";
