/**
 * The gRPC server: Check and grpc.health.v1 on the same server, on TCP and/or a unix domain socket.
 * Shutdown: health NOT_SERVING, new checks answered shutting_down, in-flight checks finish, then close
 * within the grace period.
 */
import cluster from "node:cluster";
import { chmod, chown, mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Authorizer } from "../authz/authorizer.js";
import { socketModeOf } from "../config/index.js";
import { tlsCallerGate, type RefusedCaller } from "./check-callers.js";
import { AUTHORIZATION_SERVICE_NAME, authorizationServiceDefinition, checkHandler, type CheckObserver } from "./check-service.js";
import { renewStreamTables } from "./stream-table-renewal.js";

/** Shared with the bench's trivial server (scripts/bench/trivial-server.ts), so both pay the same transport. */
export const CHECK_SERVER_OPTIONS = {
  // Envoy keeps one long-lived HTTP/2 connection per worker; allow its keepalive pings.
  "grpc.keepalive_permit_without_calls": 1,
  // Channelz bookkeeping (per-call counters and traces) serves only a channelz service, which scopegate does not
  // expose: it was ~1.4 % of a cached check's CPU samples.
  "grpc.enable_channelz": 0,
} as const;

export interface ListenOptions {
  /** host:port; port 0 picks a free one. */
  readonly tcp?: string | null | undefined;
  readonly unixSocket?: string | null | undefined;
  /** Octal file mode for the socket, e.g. "0600"; default 0660 with socketGid, else 0600 (config socketModeOf). */
  readonly socketMode?: string | undefined;
  /** Every this many streams per HTTP/2 connection, node:http2's stream table is renewed (stream-table-renewal.ts); 0: never. */
  readonly renewStreamTableEvery?: number | undefined;
  /** Health-only listener (no Check service) for probes. */
  readonly healthTcp?: string | null | undefined;
  readonly socketGid?: number | undefined;
  /** PEM contents (not paths): TLS for the TCP Check listener; with clientCa, client certificates are required. */
  readonly tls?:
    | {
        readonly cert: Buffer;
        readonly key: Buffer;
        readonly clientCa?: Buffer | undefined;
        /** Client certificate SANs that may call Check (check-callers.ts); empty = any certificate from clientCa. */
        readonly allowedClients?: readonly string[] | undefined;
      }
    | undefined;
}

export interface RunningServer {
  /** Bound TCP port, if any. */
  readonly tcpPort: number | undefined;
  readonly healthPort: number | undefined;
  readonly unixSocket: string | undefined;
  setServing(serving: boolean): void;
  /** Health NOT_SERVING; checks still answered for drainMs; then new ones refused and in-flight ones get graceMs. */
  shutdown(graceMs: number, drainMs?: number): Promise<void>;
}

export async function startGrpcServer(opts: {
  authorizer: Authorizer;
  observe: CheckObserver;
  listen: ListenOptions;
  defaultBudgetMs: number;
  /** A TLS client refused by the allow-list (once per certificate). */
  onRefusedCaller?: (caller: RefusedCaller) => void;
  /** This Node's http2 sessions do not have the table renewal relies on (once). */
  onStreamTableRenewalUnavailable?: (reason: string) => void;
}): Promise<RunningServer> {
  const server = new Server(CHECK_SERVER_OPTIONS);
  let accepting = true;
  const inFlight = { count: 0 };
  server.addService(authorizationServiceDefinition, {
    Check: checkHandler({
      authorizer: opts.authorizer,
      observe: opts.observe,
      defaultBudgetMs: opts.defaultBudgetMs,
      isAccepting: () => accepting,
      inFlight,
      admit:
        opts.listen.tls?.clientCa && opts.listen.tls.allowedClients?.length
          ? tlsCallerGate(opts.listen.tls.allowedClients, (c) => opts.onRefusedCaller?.(c))
          : undefined,
    }),
  });
  const health = new HealthImplementation({ "": "NOT_SERVING", [AUTHORIZATION_SERVICE_NAME]: "NOT_SERVING" });
  health.addToServer(server);

  let tcpPort: number | undefined;
  if (opts.listen.tcp) tcpPort = await bind(server, opts.listen.tcp, credentialsFor(opts.listen.tls));
  // Same HealthImplementation, so both servers always report the same status.
  const healthServer = opts.listen.healthTcp ? new Server() : undefined;
  let healthPort: number | undefined;
  if (healthServer && opts.listen.healthTcp) {
    health.addToServer(healthServer);
    healthPort = await bind(healthServer, opts.listen.healthTcp);
  }
  const unixSocket = opts.listen.unixSocket ?? undefined;
  if (unixSocket) await bindUnixSocket(server, unixSocket, socketModeOf(opts.listen), opts.listen.socketGid);

  // After the binds (a failed bind leaves no subscription behind); a stream seen late only starts its count late.
  const every = opts.listen.renewStreamTableEvery ?? 0;
  const renewal = every > 0 ? renewStreamTables({ every, onUnavailable: (r) => opts.onStreamTableRenewalUnavailable?.(r) }) : undefined;

  const setServing = (serving: boolean): void => {
    const status = serving ? "SERVING" : "NOT_SERVING";
    health.setStatus("", status);
    health.setStatus(AUTHORIZATION_SERVICE_NAME, status);
  };

  return {
    tcpPort,
    healthPort,
    unixSocket,
    setServing,
    async shutdown(graceMs: number, drainMs = 0) {
      setServing(false);
      if (drainMs > 0) await sleep(drainMs);
      accepting = false;
      const deadline = Date.now() + graceMs;
      while (inFlight.count > 0 && Date.now() < deadline) await sleep(10);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, Math.max(0, deadline - Date.now()));
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      healthServer?.forceShutdown();
      renewal?.stop();
      if (unixSocket && !cluster.isWorker) await rm(unixSocket, { force: true });
    },
  };
}

/**
 * Binds Check to a unix socket that only its owner can connect to until it gets its final group and mode:
 * connecting needs write permission on the socket file, and the socket is created under a umask of 0177
 * (srw-------, whatever the process umask), then given socketGid, then socketMode, in that order, so there is
 * no moment when another uid, or scopegate's own group, can connect. (grpc-js binds with net.Server.listen,
 * which creates the file with 0777 & ~umask.) A missing directory is created 0700 (0710 with socketGid, group
 * = socketGid, so Envoy can reach the socket inside it); an existing one (a mounted volume) is left as it is.
 * In cluster mode the primary creates the socket for the workers, under the umask main.ts sets for serve.
 */
async function bindUnixSocket(server: Server, path: string, mode: number, gid: number | undefined): Promise<void> {
  await makeSocketDirectory(dirname(path), gid);
  // A stale socket from a previous run. Cluster workers share the primary's socket: the primary removes it once.
  if (!cluster.isWorker) await rm(path, { force: true });
  const umask = process.umask(0o177);
  try {
    await bind(server, `unix:${path}`);
  } finally {
    process.umask(umask);
  }
  if (gid !== undefined) await chown(path, process.getuid?.() ?? 0, gid);
  await chmod(path, mode);
}

/** Creates the missing directories down to `dir`: 0700, or 0710 with group `gid` (modes set explicitly: umask). */
async function makeSocketDirectory(dir: string, gid: number | undefined): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return; // it existed (e.g. a mounted volume): its owner decided
  for (let d = dir; ; d = dirname(d)) {
    if (gid !== undefined) await chown(d, process.getuid?.() ?? 0, gid);
    await chmod(d, gid === undefined ? 0o700 : 0o710);
    if (d === first || dirname(d) === d) break;
  }
}

function bind(server: Server, address: string, credentials = ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

function credentialsFor(tls: ListenOptions["tls"]): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(tls.clientCa ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.clientCa !== undefined);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
