// The whole data path on loopback: a Genesys stand-in serving one region over TLS (api.mypurecloud.com and its
// login, certificate from a test CA, on 127.0.0.2), a real OpenBao dev server, scopegate in-process and a real
// Envoy running the shipped egress config (deploy/envoy/envoy-sidecar.yaml) with only its addresses and CA
// pointed at the test. Used by the e2e tests and the demo.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp, type App } from "../../src/app.js";
import { parseConfig, type Config } from "../../src/config/index.js";
import { renderEgressConfig } from "../../src/egress/envoy-config.js";
import { NICE_CXONE } from "../../src/profiles/nice-cxone/profile.js";
import { createLogger } from "../../src/observability/logger.js";
import { makeRegionPki, type RegionPki } from "./certs.js";
import { envoyConfigFor, startEnvoy, type Envoy } from "./envoy.js";
import { startGenesysStandin, type GenesysStandin } from "./genesys-standin.js";
import { LogCapture } from "./log-capture.js";
import { kvPut, startOpenBao, type OpenBao } from "./openbao.js";
import { repoRoot } from "./tools.js";
import { TEST_ENV } from "./environments.js";

/** The workload the stack's Envoy stands for (callers.localIdentity), and the namespace Vault records bind. */
export const STACK_NAMESPACE = "stack";
export const STACK_IDENTITY = `spiffe://cluster.local/ns/${STACK_NAMESPACE}/sa/app`;

export interface StackTenant {
  id: string;
  divisions: string[];
  clientId: string;
  clientSecret: string;
  /** "config": listed in scopegate's config; "vault": discovered from its Vault record only. */
  via: "config" | "vault";
  expiresIn?: number;
  /** One of the stack's regions; default STACK_ENV. */
  environment?: string;
  /** A NICE CXone tenant (its region must be a `cxone` one): the API user's access key. */
  accessKey?: { id: string; secret: string };
  /** Caller binding of a configured tenant. */
  allowedNamespaces?: string[];
  allowedPrincipals?: string[];
}

/** The environment stack tenants live in unless they name another region, and its stand-in's loopback address. */
export const STACK_ENV = TEST_ENV;
const STACK_IP = "127.0.0.2";

/** A stand-in Genesys Cloud region: its environment, the loopback address it answers on, HTTP/2 offered or not. */
export interface StackRegion {
  env: string;
  ip: string;
  http2?: boolean;
  /**
   * A NICE CXone environment (profile nice-cxone) with this configured API host. Envoy's config is then rendered
   * for the stack's environments (renderEgressConfig) instead of read from deploy/envoy/.
   */
  cxone?: { apiHost: string };
}

export interface Stack {
  /** The first region's stand-in (STACK_ENV unless `regions` says otherwise). */
  standin: GenesysStandin;
  /** Every region's stand-in, by environment. */
  standins: ReadonlyMap<string, GenesysStandin>;
  dir: string;
  pki: RegionPki;
  bao: OpenBao;
  app: App;
  config: Config;
  envoy: Envoy;
  logs: LogCapture;
  socketPath: string;
  addTenant(t: StackTenant): Promise<void>;
  /** Another Envoy from a shipped egress config (default the sidecar's) against the same scopegate. */
  startEnvoy(authz: "uds" | "tcp", timeoutMs?: number, more?: LaunchOptions): Promise<Envoy>;
  stop(): Promise<void>;
}

export interface LaunchOptions {
  layout?: "sidecar" | "gateway";
  /** Gateway listener certificate and client CA. */
  downstreamTls?: { certFile: string; keyFile: string; clientCaFile: string };
  /** Environment -> another address for its cluster (e.g. a stand-in with the wrong certificate). */
  upstreams?: Record<string, { host: string; port: number }>;
}

export interface StackOptions {
  tenants: StackTenant[];
  /** Stand-in regions; default one, STACK_ENV on 127.0.0.2 over HTTP/1.1. */
  regions?: StackRegion[];
  config?: Record<string, unknown>;
  envoyTimeoutMs?: number;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const dir = await mkdtemp(join(tmpdir(), "scopegate-stack-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const regions = opts.regions ?? [{ env: STACK_ENV, ip: STACK_IP }];
    const pki = makeRegionPki(dir, regions.map((r) => ({ ...r, apiHost: r.cxone?.apiHost })));
    const standins = new Map<string, GenesysStandin>();
    for (const r of regions) {
      const s = await startGenesysStandin({ host: r.ip, tls: { ...pki.serverFor(r.env), ...(r.http2 ? { http2: true } : {}) } });
      cleanup.push(() => s.close());
      standins.set(r.env, s);
    }
    const standin = standins.get(regions[0]!.env)!;
    const standinOf = (env: string): GenesysStandin => {
      const s = standins.get(env);
      if (!s) throw new Error(`stack: no region ${env}`);
      return s;
    };
    const bao = await startOpenBao();
    cleanup.push(() => bao.stop());
    const socketPath = join(dir, "authz.sock");

    const addTenant = async (t: StackTenant): Promise<void> => {
      standinOf(t.environment ?? STACK_ENV).addClient({
        clientId: t.clientId,
        clientSecret: t.clientSecret,
        divisions: t.divisions,
        ...(t.expiresIn ? { expiresIn: t.expiresIn } : {}),
        ...(t.accessKey ? { accessKey: t.accessKey } : {}),
      });
      await kvPut(bao.address, bao.rootToken, "secret", `scopegate/tenants/${t.id}`, {
        client_id: t.clientId,
        client_secret: t.clientSecret,
        ...(t.accessKey ? { access_key_id: t.accessKey.id, access_key_secret: t.accessKey.secret } : {}),
        ...(t.via === "vault" && t.accessKey ? { profile: NICE_CXONE.id } : {}),
        // A discovered tenant's caller binding comes from its record: the stack's workload (LOCAL_IDENTITY).
        ...(t.via === "vault" ? { divisions: t.divisions.join(","), environment: t.environment ?? STACK_ENV, allowed_namespaces: STACK_NAMESPACE } : {}),
      });
    };
    for (const t of opts.tenants) await addTenant(t);

    const config = parseConfig(deepMerge({
      listen: { tcp: "127.0.0.1:0", unixSocket: socketPath },
      http: { listen: null },
      secrets: {
        backend: "vault",
        vault: { address: bao.address, auth: { method: "token", token: { env: "SCOPEGATE_TEST_VAULT_TOKEN" } } },
      },
      environments: Object.fromEntries(
        regions.map((r) => {
          const s = standinOf(r.env);
          return [r.env, r.cxone ? { profile: NICE_CXONE.id, apiHost: r.cxone.apiHost, tokenUrl: s.cxoneTokenUrl } : { tokenUrl: s.tokenUrl }];
        }),
      ),
      tokens: { caFile: pki.caFile },
      tenants: opts.tenants
        .filter((t) => t.via === "config")
        .map((t) => ({
          id: t.id,
          divisions: t.divisions,
          environment: t.environment ?? STACK_ENV,
          ...(t.accessKey ? { profile: NICE_CXONE.id } : {}),
          ...(t.allowedNamespaces ? { allowedNamespaces: t.allowedNamespaces } : {}),
          ...(t.allowedPrincipals ? { allowedPrincipals: t.allowedPrincipals } : {}),
        })),
      discovery: { fromSecretStore: true, negativeCacheSeconds: 5 },
      // Envoy talks to scopegate without mTLS here: checks come from the sidecar's own workload.
      callers: { localIdentity: STACK_IDENTITY },
      logging: { level: "info" },
    }, opts.config ?? {}));
    const logs = new LogCapture();
    const app = await startApp({
      config,
      logger: createLogger(config.logging.level, logs),
      env: { SCOPEGATE_TEST_VAULT_TOKEN: bao.rootToken },
      defaultMetrics: false,
    });
    cleanup.push(() => app.stop(1000));

    // With a CXone region the shipped files (Genesys regions only) have no route for it: render one for this stack.
    const rendered = async (layout: "sidecar" | "gateway"): Promise<string> => {
      const file = join(dir, `envoy-${layout}.yaml`);
      const environments = regions.map((r) => (r.cxone ? { name: r.env, apiHost: r.cxone.apiHost, pathPrefix: NICE_CXONE.apiPathPrefix } : r.env));
      await writeFile(file, renderEgressConfig({ layout, environments }));
      return file;
    };
    const launch = async (authz: "uds" | "tcp", timeoutMs?: number, more: LaunchOptions = {}): Promise<Envoy> => {
      const layout = more.layout ?? "sidecar";
      const template = regions.some((r) => r.cxone) ? await rendered(layout) : join(repoRoot, `deploy/envoy/envoy-${layout}.yaml`);
      const upstreams = Object.fromEntries(
        regions.map((r) => [r.env, { host: r.ip, port: Number(new URL(standinOf(r.env).url).port) }]),
      );
      const envoy = await startEnvoy({
        configYaml: envoyConfigFor({
          template,
          authz: authz === "uds" ? { unixSocket: socketPath } : { tcp: `127.0.0.1:${app.server.tcpPort}` },
          upstreams: { ...upstreams, ...more.upstreams },
          upstreamTls: { caFile: pki.caFile },
          ...(more.downstreamTls ? { downstreamTls: more.downstreamTls } : {}),
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        }),
        concurrency: 2,
      });
      cleanup.push(() => envoy.stop());
      return envoy;
    };
    const envoy = await launch("uds", opts.envoyTimeoutMs);

    return {
      standin,
      standins,
      dir,
      pki,
      bao,
      app,
      config,
      envoy,
      logs,
      socketPath,
      addTenant,
      startEnvoy: launch,
      async stop() {
        for (const c of cleanup.reverse()) await c().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    throw err;
  }
}

/** One HTTP request through Envoy, with the raw response for assertions. */
export async function send(
  envoy: Envoy,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`${envoy.url}${path}`, { method, headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** The values of one header in a raw header list ([name, value, ...]), case-insensitive. */
export function rawHeader(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

/** Overrides merge into the defaults object by object; arrays and scalars replace. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === "object" && !Array.isArray(v) && b && typeof b === "object" && !Array.isArray(b)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
