/**
 * What serves Check: gateway login keys (and their watcher), the authorizer over a registry and a token source,
 * and the gRPC server with the decision log and metrics on every answer. Built by the single process (app.ts,
 * tokens from its own TokenProvider) and by each cluster worker (tokens from the primary over IPC).
 */
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { Authorizer } from "../authz/authorizer.js";
import { buildEnvironments, checkListenerAuth, type Config } from "../config/index.js";
import { GatewayTokens } from "../gateway/gateway-tokens.js";
import { loadKeysFile, watchKeysFile } from "../gateway/keys-file.js";
import { decisionLogger } from "../observability/decision-log.js";
import type { Metrics } from "../observability/metrics.js";
import { startGrpcServer, type RunningServer } from "../server/grpc-server.js";
import type { TenantRegistry } from "../tenants/registry.js";
import type { TokenSource } from "../tokens/token-provider.js";
import type { RequestBudget } from "../budget/request-budget.js";
import { warnAboutCheckListener } from "./check-listener.js";
import { policyFrom } from "./policy.js";

export interface CheckServingDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly registry: TenantRegistry;
  readonly tokens: TokenSource;
  /** The per-tenant request budget (app/budget.ts); none without config budgets. */
  readonly budget?: RequestBudget | undefined;
}

export interface CheckServing {
  readonly authorizer: Authorizer;
  readonly server: RunningServer;
  /** Tenants and route/tenant-header rules swap atomically; other changes need a restart (reload.ts). */
  applyConfig(next: Config): void;
  stop(graceMs: number, drainMs: number): Promise<void>;
}

export async function startCheckServing(deps: CheckServingDeps): Promise<CheckServing> {
  const { config, logger, metrics, registry } = deps;
  const gateway = await startGatewayTokens(config, logger);
  const authorizer = new Authorizer({ ...policyFrom(config), registry, tokens: deps.tokens, gateway: gateway?.tokens, budget: deps.budget });
  const logDecision = decisionLogger(logger, config.logging.decisions);
  const server = await startGrpcServer({
    authorizer,
    observe: (o, ms) => {
      metrics.observeCheck(o, ms);
      logDecision(o, ms);
    },
    listen: { ...config.listen, tls: await readTls(config.listen.tls) },
    defaultBudgetMs: 5000,
    // Once per refused certificate; every refused call also gets its own decision line (check_caller_not_allowed).
    onRefusedCaller: (c) => logger.warn({ sans: c.sans, fingerprint256: c.fingerprint256 }, "Check caller refused: TLS client certificate not in listen.tls.allowedClients"),
    onStreamTableRenewalUnavailable: (reason) =>
      logger.warn({ reason }, "listen.renewStreamTableEvery has no effect on this Node: long-lived Envoy connections may promote every check's objects into the old generation (more GC, longer p99)"),
  });
  warnAboutCheckListener(logger, config.listen);
  metrics.setCheckListenerUnauthenticated(checkListenerAuth(config.listen) === "unauthenticated-tcp");
  return {
    authorizer,
    server,
    applyConfig(next) {
      registry.replace(next.tenants, buildEnvironments(next.environments));
      authorizer.updatePolicy(policyFrom(next));
    },
    async stop(graceMs, drainMs) {
      gateway?.watcher.close();
      await server.shutdown(graceMs, drainMs);
    },
  };
}

/** Gateway login: the keys must be readable at start (fail fast); later a bad file keeps the keys in use. */
async function startGatewayTokens(config: Config, logger: Logger): Promise<{ tokens: GatewayTokens; watcher: { close(): void } } | undefined> {
  if (!config.gatewayTokens) return undefined;
  const tokens = new GatewayTokens(await loadKeysFile(config.gatewayTokens.keysFile), config.gatewayTokens.ttlSeconds);
  const watcher = watchKeysFile(config.gatewayTokens.keysFile, {
    pollIntervalMs: config.reload.pollIntervalMs,
    onValid: (ring) => {
      tokens.replaceKeys(ring);
      logger.info({ keyIds: [...ring.keys.keys()], current: ring.current }, "gateway token keys reloaded");
    },
    onInvalid: (problems) => logger.error({ problems }, "gateway token keys file rejected; keeping the keys in use"),
  });
  return { tokens, watcher };
}

async function readTls(tls: Config["listen"]["tls"]) {
  if (!tls) return undefined;
  return {
    cert: await readFile(tls.certFile),
    key: await readFile(tls.keyFile),
    clientCa: tls.clientCaFile ? await readFile(tls.clientCaFile) : undefined,
    allowedClients: tls.allowedClients,
  };
}
