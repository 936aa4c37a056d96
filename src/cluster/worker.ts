/**
 * One cluster worker: waits for its start message, then serves Check (app/check-serving.ts: its own registry,
 * route rules and encoded-response caches) with tokens from the primary through a RemoteTokenSource. It builds no
 * TokenProvider and probes no secret store: its gRPC health says SERVING once the primary says its store answered
 * (protocol.ts, ReadyMessage). It reads the secret store only for discovery (discovery.fromSecretStore), as the registry
 * resolves a discovered tenant from its record. Stops on the primary's shutdown message, on SIGTERM/SIGINT, or
 * when the primary goes away.
 */
import type { DestinationStream, Logger } from "pino";
import { Registry } from "prom-client";
import { startCheckServing, type CheckServing } from "../app/check-serving.js";
import { startBudget } from "../app/budget.js";
import { buildSecretStore, cacheSecrets } from "../app/minting.js";
import { buildRegistry } from "../app/registry.js";
import { parseConfig, type Config } from "../config/index.js";
import { createLogger } from "../observability/logger.js";
import { collectProcessMetrics, createMetrics, type Metrics } from "../observability/metrics.js";
import type { SecretStore } from "../secrets/secret-store.js";
import { workerConfig } from "./configs.js";
import {
  isClusterMessage,
  message,
  toWire,
  type ClusterMessage,
  type ListeningMessage,
  type MetricsReply,
  type StartMessage,
} from "./protocol.js";
import { RemoteTokenSource } from "./remote-token-source.js";

export interface WorkerDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  send(m: ClusterMessage): void;
  onMessage(listener: (m: unknown) => void): void;
  onPrimaryGone(listener: () => void): void;
  onSignal(listener: (signal: string) => void): void;
  exit(code: number): void;
  /** Where log lines go (worker-main: buffered stdout); pino's default (stdout, a write per line) without it. */
  readonly logDestination?: DestinationStream;
}

/** Gives the primary's question room for a secret read and a token request, each with its own timeout. */
export function askTimeoutMs(config: { tokens: { requestTimeoutMs: number }; secrets: { vault?: { requestTimeoutMs: number } | undefined } }): number {
  return config.tokens.requestTimeoutMs + (config.secrets.vault?.requestTimeoutMs ?? 2000);
}

export async function runWorker(deps: WorkerDeps): Promise<void> {
  let remote: RemoteTokenSource | undefined;
  let app: WorkerApp | undefined;
  let primaryReady = false;
  let logger: Logger | undefined;
  let stopping = false;
  let unixSocket = false;
  let processMetrics: Registry | undefined;
  /** The primary's /metrics: this worker's registries as data (empty before the app runs: nothing counted yet). */
  const answerMetrics = async (id: number): Promise<void> => {
    const [own, proc] = await Promise.all([app?.metrics.registry.getMetricsAsJSON() ?? [], processMetrics?.getMetricsAsJSON() ?? []]);
    deps.send(message<MetricsReply>({ type: "metrics.reply", id, metrics: toWire({ app: own, process: proc }) }));
  };
  const started = new Promise<StartMessage>((resolve) => {
    deps.onMessage((m) => {
      if (!isClusterMessage(m)) return;
      if (m.type === "start") resolve(m);
      else if (m.type === "ready") {
        primaryReady = true;
        if (app && !stopping) app.check.server.setServing(true);
      }
      else if (m.type === "token.reply") remote?.handle(m);
      else if (m.type === "metrics.ask") answerMetrics(m.id).catch(() => undefined); // no answer: the primary's wait is bounded
      else if (m.type === "shutdown") stop(m.graceMs, "primary");
      else if (m.type === "evict") remote?.evict(m.tenantId);
      else if (m.type === "config" && app) app.check.applyConfig(workerConfig(parseConfig(m.config, "cluster config"), { unixSocket }));
    });
  });
  const stop = (graceMs: number, why: string): void => {
    if (stopping) return;
    stopping = true;
    logger?.info({ why }, "worker stopping");
    const done = app ? app.stop(graceMs) : Promise.resolve();
    done.then(
      () => deps.exit(0),
      () => deps.exit(1),
    );
  };
  deps.onSignal((signal) => stop(10_000, signal));
  deps.onPrimaryGone(() => stop(1_000, "primary gone"));

  const start = await started;
  unixSocket = start.unixSocket;
  const config = workerConfig(parseConfig(start.config, "cluster config"), { unixSocket });
  logger = createLogger(config.logging.level, deps.logDestination).child({ worker: start.slot });
  if (start.processMetrics) {
    processMetrics = new Registry();
    collectProcessMetrics(processMetrics, config.metrics.eventLoopResolutionMs, { worker: String(start.slot) });
  }
  remote = new RemoteTokenSource({ channel: deps, max: config.tokens.maxTenants, askTimeoutMs: askTimeoutMs(config) });
  app = await startWorkerApp({ config, logger, env: deps.env, tokens: remote });
  if (stopping) {
    await app.stop(1_000);
    return;
  }
  if (primaryReady) app.check.server.setServing(true);
  deps.send(message<ListeningMessage>({ type: "listening" }));
}

interface WorkerApp {
  readonly metrics: Metrics;
  readonly check: CheckServing;
  stop(graceMs: number): Promise<void>;
}

/** A worker's wiring: metrics, registry and the Check server; tokens from the primary. */
async function startWorkerApp(deps: { config: Config; logger: Logger; env: WorkerDeps["env"]; tokens: RemoteTokenSource }): Promise<WorkerApp> {
  const { config, logger } = deps;
  const metrics = createMetrics({ ...config.metrics, defaultMetrics: false });
  // The registry reads records of discovered tenants only; without discovery this worker opens no secret store.
  const discovery = config.discovery.fromSecretStore ? await buildSecretStore({ config, logger, env: deps.env }) : undefined;
  const registry = buildRegistry(config, cacheSecrets(discovery?.store ?? NO_SECRET_STORE, config, metrics));
  // Without a shared store each worker keeps its own counters: each enforces 1/workers of the budget.
  const budgeting = await startBudget({ config, logger, observer: metrics.budget, localShares: config.workers });
  const check = await startCheckServing({ config, logger, metrics, registry, tokens: deps.tokens, budget: budgeting.budget });
  logger.info({ tcpPort: check.server.tcpPort, unixSocket: check.server.unixSocket, tenants: config.tenants.length }, "scopegate listening");
  return {
    metrics,
    check,
    async stop(graceMs) {
      await check.stop(graceMs, config.shutdown.drainMs);
      await budgeting.close();
      discovery?.vault?.close();
    },
  };
}

/** Never read: the registry asks its store only when discovery is on. */
const NO_SECRET_STORE: SecretStore = { read: async () => ({ kind: "unavailable", detail: "this worker reads no secrets" }) };
