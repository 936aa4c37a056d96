/**
 * Multi-worker mode: node:cluster workers each run the gRPC server on the shared Check port (the primary accepts
 * connections and hands them out round-robin), while the primary alone reads secrets and mints tokens, answering
 * the workers over IPC. One token request per tenant, whatever the number of workers. The primary also serves
 * /healthz /readyz /metrics, its /metrics summing the workers' (cluster-metrics.ts).
 *
 * HTTP/2 connections are long-lived and handed out whole: Envoy opens one per worker thread, so give Envoy at
 * least as many worker threads (--concurrency) as scopegate has workers, or some workers stay idle.
 */
import cluster, { type Worker } from "node:cluster";
import { rm } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Registry } from "prom-client";
import type { AppDeps, Running } from "../app.js";
import { evictTenant } from "../app/evict.js";
import { buildMinting } from "../app/minting.js";
import { AppReadiness } from "../app/readiness.js";
import { buildRegistry } from "../app/registry.js";
import { watchReload } from "../app/reload.js";
import { buildEnvironments, type Config } from "../config/index.js";
import { collectProcessMetrics, createMetrics } from "../observability/metrics.js";
import { startHttpServer, type RunningHttpServer } from "../server/http-server.js";
import { ClusterMetrics } from "./cluster-metrics.js";
import { servesTcp } from "./configs.js";
import {
  isClusterMessage,
  message,
  type ConfigMessage,
  type EvictMessage,
  type ReadyMessage,
  type ShutdownMessage,
  type StartMessage,
  type TokenReply,
} from "./protocol.js";
import { TokenBroker } from "./token-broker.js";

export interface ClusterOptions extends AppDeps {
  /** Worker processes serving Check; 1 or more (os.availableParallelism() is the usual choice). */
  readonly workers: number;
  /** Bind the configured unix socket in every worker (the primary removes a stale one once); else slot 1 only. */
  readonly shareUnixSocket?: boolean;
  readonly startTimeoutMs?: number;
  /** How long a scrape of /metrics waits for a live worker's answer before it fails (default 2000). */
  readonly metricsTimeoutMs?: number;
}

export interface RunningCluster extends Running {
  /** /healthz /readyz /metrics (config.http.listen), served by the primary for the whole cluster. */
  readonly http: RunningHttpServer | undefined;
  readonly workers: number;
  workerPids(): number[];
  /** Operator eviction: the primary's token and secret record, and every worker's local copy of the token. */
  evict(tenantId: string): boolean;
  /** Workers stop within graceMs (default: the config's shutdown.graceMs) and drain per their config. */
  stop(graceMs?: number): Promise<void>;
}

const RESTART_DELAY_MS = 1000;

export async function startCluster(opts: ClusterOptions): Promise<RunningCluster> {
  if (!cluster.isPrimary) throw new Error("startCluster runs in the primary; workers run src/cluster/worker-main");
  if (!Number.isInteger(opts.workers) || opts.workers < 1 || opts.workers > 256) {
    throw new Error(`cluster: workers must be an integer from 1 to 256, got ${opts.workers}`);
  }
  const { config, logger } = opts;
  if (opts.workers > 1 && !servesTcp(config) && !opts.shareUnixSocket) {
    throw new Error("cluster: with listen.tcp null only one worker could serve the unix socket; see src/cluster/configs.ts");
  }
  // The primary mints tokens (never the workers) and answers /readyz; it serves no Check itself.
  const own = logger.child({ role: "primary" });
  // Default process metrics go to a registry of their own, labelled worker="primary" (see cluster-metrics.ts).
  const appMetrics = createMetrics({ ...config.metrics, defaultMetrics: false });
  const minting = await buildMinting({ ...opts, logger: own }, appMetrics);
  const registry = buildRegistry(config, minting.secrets);
  // The workers hold the budget; the primary's /readyz names its scope (each worker's fallback is in its metrics).
  const budgetScope: Record<string, string> = config.budgets ? { budget: config.budgets.store === "redis" ? "fleet" : "replica" } : {};
  const readiness = new AppReadiness({ store: minting.store, logger: own, listen: config.listen, budget: () => budgetScope, fleet: minting.fleet });
  const processMetrics = opts.defaultMetrics === false ? undefined : new Registry();
  if (processMetrics) collectProcessMetrics(processMetrics, config.metrics.eventLoopResolutionMs, { worker: "primary" });
  const broker = new TokenBroker({ registry, tokens: minting.tokens });
  // The primary's token and secret record, and every worker's local copy of the token.
  const evictHere = (tenantId: string): boolean => {
    const evicted = evictTenant({ tokens: minting.tokens, secrets: minting.secrets, registry }, tenantId);
    for (const w of slots.values()) if (w.isConnected()) w.send(message<EvictMessage>({ type: "evict", tenantId }));
    return evicted;
  };
  // A stale socket from a previous run is removed once, here, when the workers share it (they must not).
  if (config.listen.unixSocket && opts.shareUnixSocket) await rm(config.listen.unixSocket, { force: true });
  cluster.setupPrimary({ exec: workerEntry() });

  let current: Config = config;
  const stopping = (): boolean => readiness.shuttingDown;
  const slots = new Map<number, Worker>();
  // The primary mints, so it is the one that goes through the fleet store (workers ask the primary).
  minting.fleet?.bind(minting.tokens, (id) => void evictHere(id));
  const listening = new Set<number>();
  let allListening: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (allListening = resolve));
  const storeAnswered = (): boolean => readiness.notReadyReason() === undefined;
  const tellReady = (w: Worker): void => void (w.isConnected() && w.send(message<ReadyMessage>({ type: "ready" })));
  void readiness.storeAnswered.then(() => {
    if (!stopping()) for (const [slot, w] of slots) if (listening.has(slot)) tellReady(w);
  });

  const metrics = new ClusterMetrics({
    own: async () => ({ app: await appMetrics.registry.getMetricsAsJSON(), process: (await processMetrics?.getMetricsAsJSON()) ?? [] }),
    workers: () =>
      [...slots]
        .filter(([slot, w]) => listening.has(slot) && w.isConnected())
        .map(([slot, w]) => ({ slot, ask: (m, failed) => void w.send(m, (err) => err && failed()) })),
    timeoutMs: opts.metricsTimeoutMs ?? 2000,
    onTimeout: (slots) => logger.warn({ slots }, "cluster workers did not answer a metrics scrape in time; scrape failed"),
  });
  let http: RunningHttpServer | undefined;
  try {
    // /metrics is the whole cluster's (cluster-metrics.ts); /readyz answers as a single process's would.
    http = config.http.listen ? await startHttpServer({ listen: config.http.listen, registry: metrics, readiness, isShuttingDown: stopping }) : undefined;
  } catch (err) {
    readiness.beginShutdown();
    await minting.close();
    throw err;
  }

  const fork = (slot: number): void => {
    const worker = cluster.fork(stringsOnly(opts.env));
    slots.set(slot, worker);
    const unixSocket = slot === 1 || opts.shareUnixSocket === true;
    worker.on("online", () =>
      worker.send(message<StartMessage>({ type: "start", config: current, configPath: opts.configPath, slot, unixSocket, processMetrics: processMetrics !== undefined })),
    );
    worker.on("message", (m: unknown) => {
      if (!isClusterMessage(m)) return;
      if (m.type === "listening") {
        listening.add(slot);
        if (storeAnswered() && !stopping()) tellReady(worker);
        if (listening.size === opts.workers) allListening();
      } else if (m.type === "token.ask") {
        void broker.answer(m).then((answer) => {
          if (worker.isConnected()) worker.send(message<TokenReply>({ type: "token.reply", id: m.id, answer }));
        });
      } else if (m.type === "metrics.reply") {
        metrics.handle(slot, m);
      }
    });
    worker.on("exit", (code, signal) => {
      listening.delete(slot);
      metrics.workerExited(slot);
      if (stopping()) return;
      logger.error({ slot, code, signal }, "cluster worker exited; starting another");
      setTimeout(() => stopping() || fork(slot), RESTART_DELAY_MS).unref();
    });
  };
  for (let slot = 1; slot <= opts.workers; slot++) fork(slot);

  const watcher = watchReload({
    configPath: opts.configPath,
    startedWith: config,
    logger,
    metrics: appMetrics,
    readiness,
    apply: (next) => {
      current = next;
      registry.replace(next.tenants, buildEnvironments(next.environments));
      for (const w of slots.values()) if (w.isConnected()) w.send(message<ConfigMessage>({ type: "config", config: next }));
    },
  });

  const stop = async (graceMs = config.shutdown.graceMs): Promise<void> => {
    if (stopping()) return;
    readiness.beginShutdown();
    watcher?.close();
    const exits = [...slots.values()].map(
      (w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once("exit", () => resolve()))),
    );
    for (const w of slots.values()) if (w.isConnected()) w.send(message<ShutdownMessage>({ type: "shutdown", graceMs }));
    const late = setTimeout(() => {
      for (const w of slots.values()) if (!w.isDead()) w.process.kill("SIGKILL");
    }, graceMs + 2000);
    await Promise.all(exits);
    clearTimeout(late);
    // /metrics stays up while the workers drain; /readyz has said shutting_down since the start.
    await http?.close();
    await minting.close();
  };

  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  const outcome = await Promise.race([ready, timedOut]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    await stop(1000);
    throw new Error(`cluster: ${opts.workers - listening.size} of ${opts.workers} workers not listening after ${timeoutMs} ms`);
  }
  logger.info({ workers: opts.workers, tcp: config.listen.tcp, unixSocketWorkers: opts.shareUnixSocket ? opts.workers : 1 }, "scopegate cluster serving");
  return {
    http,
    workers: opts.workers,
    workerPids: () => [...slots.values()].filter((w) => !w.isDead()).map((w) => w.process.pid ?? -1),
    evict: evictHere,
    ...(minting.fleet ? { evictInFleet: (tenantId: string) => minting.fleet!.evict(tenantId) } : {}),
    stop,
  };
}

/** worker-main next to this file, .ts when running from source under a loader, .js from dist. */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return join(here, "..", `worker-main${extname(here)}`);
}

function stringsOnly(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
