#!/usr/bin/env node
/**
 * Composition root and CLI. The only file that reads process.env or process.argv.
 *   scopegate serve [--config <file>] [--workers <n>]   (or SCOPEGATE_CONFIG; workers also from the config)
 *   scopegate check-config <file> [--probe]      validate; --probe also reads each tenant's secret and mints a token
 *   scopegate envoy-config --layout sidecar|gateway [--config <file>]
 *                                                print the Envoy egress config for the config's environments (default: every region)
 *   scopegate evict <tenant> [--admin-socket <path>]   drop the tenant's cached token and secret record in the
 *                                                      running server (admin socket: the flag, else the config's
 *                                                      admin.socket if the config file exists, else the default)
 */
import "./runtime/v8-flags.js"; // first: V8 settings before any other module runs
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { startApp, type Running } from "./app.js";
import { startCluster } from "./cluster/index.js";
import { buildEnvironments, checkListenerAuth, ConfigError, DEFAULT_ADMIN_SOCKET, loadConfigFile, unauthenticatedCheckListeners } from "./config/index.js";
import { renderEgressConfig } from "./egress/envoy-config.js";
import { GENESYS_ENVIRONMENTS } from "./profiles/genesys/regions.js";
import { requestEviction, startAdminServer, type EvictResult, type RunningAdminServer } from "./server/admin-server.js";
import { compileTenantIdPattern } from "./tenants/tenant-id.js";
import { bufferedStdout, createLogger } from "./observability/logger.js";
import { probeFleet, probeKeysFile, probeTenants } from "./probe.js";

const DEFAULT_CONFIG = "/etc/scopegate/config.yaml";

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" },
      probe: { type: "boolean", default: false },
      workers: { type: "string" },
      layout: { type: "string" },
      "admin-socket": { type: "string" },
    },
  });
  const [command = "serve", fileArg] = positionals;
  if (command === "evict") return evict(fileArg, values["admin-socket"] ?? (await adminSocketFromConfig(values.config ?? process.env["SCOPEGATE_CONFIG"] ?? DEFAULT_CONFIG)));
  const configPath = values.config ?? fileArg ?? process.env["SCOPEGATE_CONFIG"] ?? DEFAULT_CONFIG;

  switch (command) {
    case "check-config": {
      const config = await loadConfigFile(configPath);
      process.stdout.write(`${configPath}: ok (${config.tenants.length} tenants, secrets: ${config.secrets.backend})\n`);
      // Valid, but worth a word: serve would log the same at start (app/check-listener.ts).
      const listener = checkListenerAuth(config.listen);
      if (listener === "unauthenticated-tcp" || listener === "any-client-certificate") {
        process.stderr.write(`${configPath}: warning: Check listener ${listener}: ${unauthenticatedCheckListeners(config.listen).join("; ")}\n`);
      }
      if (!values.probe) return 0;
      const logger = createLogger("warn");
      const rows = await probeTenants({ config, logger, env: process.env });
      if (config.gatewayTokens) rows.push({ tenant: "gatewayTokens.keysFile", result: await probeKeysFile(config.gatewayTokens.keysFile) });
      if (config.fleet) rows.push(...(await probeFleet(config.fleet)));
      for (const r of rows) process.stdout.write(`${r.tenant.padEnd(32)} ${r.result}\n`);
      return rows.every((r) => r.result === "ok" || r.result.startsWith("ok ")) ? 0 : 1;
    }
    case "serve": {
      const config = await loadConfigFile(configPath);
      const out = bufferedStdout();
      const logger = createLogger(config.logging.level, out);
      const flush = (): void => {
        try {
          out.flushSync();
        } catch {
          // not open yet: nothing buffered to lose
        }
      };
      // Also on an exit we did not choose (an uncaught exception): the buffered lines are the interesting ones.
      process.on("exit", flush);
      const exit = (code: number): never => {
        flush();
        process.exit(code);
      };
      const workers = values.workers === undefined ? config.workers : Number(values.workers);
      const deps = { config, logger, env: process.env, configPath };
      // Sockets and nothing else are created for others, and those get their modes explicitly (grpc-server.ts):
      // in cluster mode the primary creates the shared Check socket, so its umask must already be strict.
      process.umask(0o077);
      const running: Running =
        workers > 1
          ? await startCluster({ ...deps, workers, shareUnixSocket: true })
          : await startApp(deps);
      // With a fleet token store, Redis first (so nothing here can adopt the old token again), then here; the
      // other replicas drop theirs on the notice Redis publishes.
      const evictTenant = async (id: string): Promise<EvictResult> => {
        const fleet = running.evictInFleet ? await running.evictInFleet(id) : "no_store";
        const evicted = running.evict(id);
        return fleet === "no_store" ? { evicted } : { evicted, fleet };
      };
      let admin: RunningAdminServer | undefined;
      try {
        admin = config.admin.socket
          ? await startAdminServer({ socket: config.admin.socket, tenantIdPattern: compileTenantIdPattern(config.tenantIdPattern), evict: evictTenant, logger })
          : undefined;
      } catch (err) {
        await running.stop(1000);
        throw err;
      }
      if (admin) logger.info({ adminSocket: admin.socket }, "admin socket listening");
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, "shutting down");
        // Grace and drain come from the config, in one process and in a cluster alike.
        Promise.all([running.stop(), admin?.close()]).then(
          () => exit(0),
          () => exit(1),
        );
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
      return new Promise<number>(() => {
        /* runs until a signal */
      });
    }
    case "envoy-config": {
      const layout = values.layout ?? "sidecar";
      if (layout !== "sidecar" && layout !== "gateway") {
        process.stderr.write(`--layout must be sidecar or gateway, not ${layout}\n`);
        return 2;
      }
      const given = values.config ?? fileArg;
      const config = given === undefined ? undefined : await loadConfigFile(given);
      // Each environment with its profile's API host and path prefix (Genesys Cloud: api.<env>, /api/v2/).
      const environments = config
        ? [...buildEnvironments(config.environments).values()].map((e) => ({ name: e.name, apiHost: e.apiHost, pathPrefix: e.profile.apiPathPrefix }))
        : GENESYS_ENVIRONMENTS;
      process.stdout.write(
        renderEgressConfig({ layout, environments, ...(config ? { upstreamHeader: config.egress.upstreamHeader, tenantHeader: config.tenantHeader } : {}) }),
      );
      return 0;
    }
    default:
      process.stderr.write(`unknown command ${command}; use serve, check-config, evict or envoy-config\n`);
      return 2;
  }
}

async function evict(tenant: string | undefined, socket: string): Promise<number> {
  if (!tenant) {
    process.stderr.write("usage: scopegate evict <tenant> [--admin-socket <path>]\n");
    return 2;
  }
  const { status, body } = await requestEviction(socket, tenant);
  (status === 200 ? process.stdout : process.stderr).write(body.endsWith("\n") ? body : `${body}\n`);
  return status === 200 ? 0 : 1;
}

/** The admin socket of the config the server runs with, when that file is here; the default otherwise. */
async function adminSocketFromConfig(configPath: string): Promise<string> {
  if (!existsSync(configPath)) return DEFAULT_ADMIN_SOCKET;
  const config = await loadConfigFile(configPath);
  if (!config.admin.socket) throw new Error(`${configPath}: admin.socket is null (the admin socket is disabled)`);
  return config.admin.socket;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`scopegate: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  },
);
