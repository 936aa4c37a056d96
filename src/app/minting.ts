/**
 * What mints tokens: secret store (Vault or files) behind its cache, the token endpoint client and the token
 * provider. Built by the process that reads secrets: the single process (app.ts) or the cluster primary
 * (cluster/primary.ts); never by a cluster worker, which gets its tokens from the primary.
 */
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import { roundMs } from "../observability/decision-log.js";
import type { Metrics } from "../observability/metrics.js";
import { CachedSecretStore } from "../secrets/cached-secret-store.js";
import { FileSecretStore } from "../secrets/file-secret-store.js";
import type { SecretStore } from "../secrets/secret-store.js";
import type { SecretSource, VaultSession } from "../secrets/vault-session.js";
import { HttpTokenEndpoint } from "../tokens/token-endpoint.js";
import { TokenProvider } from "../tokens/token-provider.js";
import { startFleet, type Fleet } from "./fleet.js";

export interface MintingDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Minting {
  /** The store itself (readiness probes it uncached). */
  readonly store: SecretStore;
  readonly secrets: CachedSecretStore;
  readonly vault: VaultSession | undefined;
  readonly tokens: TokenProvider;
  /** config fleet: the Redis connection and the shared token store the provider mints through. */
  readonly fleet: Fleet | undefined;
  close(): Promise<void>;
}

/** The token endpoint client, with the configured CA bundle (serve and check-config --probe alike). */
export async function buildTokenEndpoint(config: Config): Promise<HttpTokenEndpoint> {
  const caPem = config.tokens.caFile ? await readFile(config.tokens.caFile, "utf8") : undefined;
  return new HttpTokenEndpoint({ timeoutMs: config.tokens.requestTimeoutMs, caPem });
}

export async function buildSecretStore(deps: MintingDeps): Promise<{ store: SecretStore; vault: VaultSession | undefined }> {
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
  const [{ VaultSession }, { VaultSecretStore }] = await Promise.all([import("../secrets/vault-session.js"), import("../secrets/vault-secret-store.js")]);
  const vault = new VaultSession({ config: v, readSecret, logger, caPem });
  return { store: new VaultSecretStore(vault, v.kvMount, v.tenantPrefix, logger), vault };
}

/** The secret store's cache, sized for every tenant plus the negative entries of discovery. */
export function cacheSecrets(store: SecretStore, config: Config, metrics: Pick<Metrics, "secretRead">): CachedSecretStore {
  return new CachedSecretStore(store, {
    ttlMs: config.secrets.cacheTtlSeconds * 1000,
    negativeTtlMs: config.discovery.negativeCacheSeconds * 1000,
    maxStaleMs: config.secrets.maxStaleSeconds * 1000,
    max: config.tokens.maxTenants + config.discovery.maxNegativeEntries,
    loadTimeoutMs: config.secrets.vault?.requestTimeoutMs ?? 2000,
    onLoad: (outcome, ms) => metrics.secretRead(outcome, ms),
  });
}

export async function buildMinting(deps: MintingDeps, metrics: Metrics): Promise<Minting> {
  const { config, logger } = deps;
  const { store, vault } = await buildSecretStore(deps);
  const secrets = cacheSecrets(store, config, metrics);
  const endpoint = await buildTokenEndpoint(config);
  const fleet = await startFleet(config, logger, metrics);
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
    ...(fleet?.tokens ? { shared: fleet.tokens } : {}),
  });
  if (config.allowPlainHttpLoopbackForTesting) {
    logger.warn("allowPlainHttpLoopbackForTesting is on: token URLs may be plain http to loopback. Never use this outside tests.");
  }
  return {
    store,
    secrets,
    vault,
    tokens,
    fleet,
    async close() {
      vault?.close();
      endpoint.close();
      await fleet?.close();
    },
  };
}
