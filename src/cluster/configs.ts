/**
 * What each process of a cluster serves, derived from the one config. Pure.
 * - The primary mints tokens and serves /healthz, /readyz and /metrics (config.http) from primary.ts, not from
 *   its app: /metrics there covers the workers too (cluster-metrics.ts). Its app's gRPC server only listens on a
 *   private socket nobody is told about (startApp always starts one; it must not take the shared Check port,
 *   which node:cluster hands out to the workers).
 * - Workers serve Check (and gRPC health) on the configured TCP address, shared through node:cluster, and no HTTP.
 */
import { parseConfig, type Config } from "../config/index.js";

export function primaryConfig(config: Config, privateSocket: string): Config {
  return parseConfig(
    {
      ...config,
      listen: { ...config.listen, tcp: null, healthTcp: null, unixSocket: privateSocket, socketGid: undefined, tls: undefined },
      http: { ...config.http, listen: null },
      // main.ts serves the admin socket beside the cluster, not the primary's app.
      admin: { socket: null },
    },
    "cluster primary",
  );
}

/**
 * `unixSocket`: whether this worker binds the configured unix socket. Workers share the primary's socket
 * (node:cluster); grpc-server.ts leaves its removal to the primary, so every worker may bind it
 * (startCluster's shareUnixSocket, which main.ts sets).
 */
export function workerConfig(config: Config, opts: { unixSocket: boolean }): Config {
  return parseConfig(
    {
      ...config,
      listen: { ...config.listen, ...(opts.unixSocket ? {} : { unixSocket: null, socketGid: undefined }) },
      http: { ...config.http, listen: null },
      // The primary serves the admin socket (main.ts) and forwards evictions to the workers.
      admin: { socket: null },
    },
    "cluster worker",
  );
}

/** Whether `config` gives every worker something to listen on when only slot 1 may take the unix socket. */
export function servesTcp(config: Config): boolean {
  return config.listen.tcp !== null;
}
