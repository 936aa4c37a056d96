/**
 * Config reload: watch the config file (config/watch.ts), apply each valid change through `apply`, report a
 * rejected one (log, metrics, /readyz detail) and keep the last good config. Single process: app.ts applies to its
 * registry and authorizer; cluster: the primary applies to its registry and forwards the config to the workers.
 */
import type { Logger } from "pino";
import { watchConfigFile, type Config, type ConfigWatcher } from "../config/index.js";
import type { Metrics } from "../observability/metrics.js";
import type { AppReadiness } from "./readiness.js";

export interface ReloadDeps {
  /** No watcher without a path (integration tests) or with reload.watch off. */
  readonly configPath: string | undefined;
  /** The config the process started with: restart-only keys are compared with it, not with the previous file. */
  readonly startedWith: Config;
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, "configReload" | "setConfigValid">;
  readonly readiness: Pick<AppReadiness, "reloadResult">;
  apply(next: Config): void;
}

export function watchReload(deps: ReloadDeps): ConfigWatcher | undefined {
  const { configPath, startedWith, logger, metrics, readiness } = deps;
  if (!configPath || !startedWith.reload.watch) return undefined;
  return watchConfigFile(configPath, {
    pollIntervalMs: startedWith.reload.pollIntervalMs,
    onValid: (next) => {
      const restartNeeded = restartOnlyChanges(startedWith, next);
      if (restartNeeded.length > 0) logger.warn({ keys: restartNeeded }, "config change needs a restart to take effect");
      deps.apply(next);
      readiness.reloadResult(undefined);
      metrics.configReload("ok");
      metrics.setConfigValid(true);
      logger.info({ tenants: next.tenants.length }, "config reloaded");
    },
    onInvalid: (problems) => {
      readiness.reloadResult(problems);
      metrics.configReload("invalid");
      metrics.setConfigValid(false);
      logger.error({ problems }, "config reload rejected; keeping the last good config");
    },
  });
}

/** Changing these needs a new process (listeners, secret backend, cache sizes). */
const RESTART_ONLY_KEYS = ["listen", "admin", "http", "secrets", "tokens", "discovery", "metrics", "logging", "reload", "shutdown", "workers", "gatewayTokens", "budgets", "fleet"] as const;

export function restartOnlyChanges(startedWith: Config, next: Config): string[] {
  return RESTART_ONLY_KEYS.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(startedWith[k]));
}
