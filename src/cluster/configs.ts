/**
 * What each process of a cluster serves, derived from the one config. Pure.
 * - The primary runs with the config as it is: it mints tokens and serves /healthz, /readyz and /metrics
 *   (config.http; /metrics covers the workers too, cluster-metrics.ts), and no Check server of its own (the shared
 *   Check port is node:cluster's to hand out to the workers).
 * - Workers serve Check (and gRPC health) on the configured TCP address, shared through node:cluster, and no HTTP.
 */
import { parseConfig, type Config } from "../config/index.js";

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
