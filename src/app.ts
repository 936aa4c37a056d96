/**
 * Builds a running scopegate from a validated config: logger -> secret store -> registry -> tokens ->
 * authorizer -> gRPC server. main.ts calls this; integration tests call it in-process.
 * Nothing here reads process.env: environment-sourced values come in through `env`.
 */
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { Authorizer } from "./authz/authorizer.js";
import type { CheckOutcome } from "./authz/authorizer.js";
import { DENY_REASONS } from "./authz/deny-reasons.js";
import { GENESYS_CROSS_DIVISION_ROUTES, GENESYS_DIVISION_ROUTES } from "./authz/genesys-catalog.js";
import { buildRouteTable, type RouteRule } from "./authz/route-table.js";
import type { Config } from "./config/index.js";
import { CachedSecretStore } from "./secrets/cached-secret-store.js";
import { FileSecretStore } from "./secrets/file-secret-store.js";
import type { SecretStore } from "./secrets/secret-store.js";
import { VaultSecretStore } from "./secrets/vault-secret-store.js";
import { VaultSession, type SecretSource } from "./secrets/vault-session.js";
import { startGrpcServer, type RunningServer } from "./server/grpc-server.js";
import { TenantRegistry } from "./tenants/registry.js";
import { compileTenantIdPattern } from "./tenants/tenant-id.js";
import { HttpTokenEndpoint } from "./tokens/token-endpoint.js";
import { TokenProvider } from "./tokens/token-provider.js";

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface App {
  readonly authorizer: Authorizer;
  readonly tokens: TokenProvider;
  readonly secrets: CachedSecretStore;
  readonly registry: TenantRegistry;
  readonly vault: VaultSession | undefined;
  readonly server: RunningServer;
  stop(graceMs?: number): Promise<void>;
}

export function routeRulesFrom(config: Config): { rules: RouteRule[]; denied: { method: string; path: string }[] } {
  const base: RouteRule[] =
    config.routes.rules ?? GENESYS_DIVISION_ROUTES.map(([method, path, param]) => ({ method, path, param }));
  const denied = config.routes.denied ?? GENESYS_CROSS_DIVISION_ROUTES.map(([method, path]) => ({ method, path }));
  return { rules: [...base, ...config.routes.extraRules], denied: [...denied] };
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
  const vault = new VaultSession({ config: v, readSecret, logger, caPem });
  return { store: new VaultSecretStore(vault, v.kvMount, v.tenantPrefix, logger), vault };
}

export async function startApp(deps: AppDeps): Promise<App> {
  const { config, logger } = deps;
  const { store, vault } = await buildSecretStore(deps);
  const secrets = new CachedSecretStore(store, {
    ttlMs: config.secrets.cacheTtlSeconds * 1000,
    negativeTtlMs: config.discovery.negativeCacheSeconds * 1000,
    maxStaleMs: config.secrets.cacheTtlSeconds * 1000,
    max: config.tokens.maxTenants + config.discovery.maxNegativeEntries,
    loadTimeoutMs: config.secrets.vault?.requestTimeoutMs ?? 2000,
  });
  const caPem = config.tokens.caFile ? await readFile(config.tokens.caFile, "utf8") : undefined;
  const endpoint = new HttpTokenEndpoint({ timeoutMs: config.tokens.requestTimeoutMs, caPem });
  const tokens = new TokenProvider({
    endpoint,
    secrets,
    skewSeconds: config.tokens.skewSeconds,
    refreshAt: config.tokens.refreshAt,
    max: config.tokens.maxTenants,
    requestTimeoutMs: config.tokens.requestTimeoutMs,
    onTokenRequest: (tenant, outcome, durationMs) =>
      logger.debug({ tenant, outcome, durationMs: round(durationMs) }, "token request"),
  });
  const registry = new TenantRegistry(config.tenants, { enabled: config.discovery.fromSecretStore, store: secrets });
  const { rules, denied } = routeRulesFrom(config);
  const authorizer = new Authorizer({
    tenantId: { header: config.tenantHeader, pattern: compileTenantIdPattern(config.tenantIdPattern) },
    stripTenantHeader: config.stripTenantHeader,
    routes: buildRouteTable(rules, denied),
    registry,
    tokens,
  });
  const server = await startGrpcServer({
    authorizer,
    observe: decisionLogger(logger),
    listen: config.listen,
    defaultBudgetMs: 5000,
  });
  server.setServing(true);
  logger.info({ tcpPort: server.tcpPort, unixSocket: server.unixSocket, tenants: config.tenants.length }, "scopegate serving");
  return {
    authorizer,
    tokens,
    secrets,
    registry,
    vault,
    server,
    async stop(graceMs = 5000) {
      await server.shutdown(graceMs);
      vault?.close();
      endpoint.close();
    },
  };
}

/** One line per decision: codes and ids only, never request headers or tokens. */
function decisionLogger(logger: Logger): (o: CheckOutcome, durationMs: number) => void {
  return (o, durationMs) => {
    const level = o.reason ? DENY_REASONS[o.reason].level : "info";
    if (!logger.isLevelEnabled(level)) return;
    logger[level]({
      tenant: o.tenant,
      decision: o.decision,
      reason: o.reason,
      tokenCache: o.tokenCache,
      durationMs: round(durationMs),
      requestId: o.requestId,
    }, "check");
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
