// The whole data path on loopback: a Genesys stand-in serving one region over TLS (api.mypurecloud.com and its
// login, certificate from a test CA, on 127.0.0.2), a real OpenBao dev server, scopegate in-process and a real
// Envoy running the shipped egress config (deploy/envoy/envoy-sidecar.yaml) with only its addresses and CA
// pointed at the test. Used by the e2e tests and the demo.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp, type App } from "../../src/app.js";
import { parseConfig, type Config } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/logger.js";
import { makeRegionPki, type RegionPki } from "./certs.js";
import { envoyConfigFor, startEnvoy, type Envoy } from "./envoy.js";
import { startGenesysStandin, type GenesysStandin } from "./genesys-standin.js";
import { LogCapture } from "./log-capture.js";
import { kvPut, startOpenBao, type OpenBao } from "./openbao.js";
import { repoRoot } from "./tools.js";

export interface StackTenant {
  id: string;
  divisions: string[];
  clientId: string;
  clientSecret: string;
  /** "config": listed in scopegate's config; "vault": discovered from its Vault record only. */
  via: "config" | "vault";
  expiresIn?: number;
}

/** The environment every stack tenant lives in, and the loopback address its stand-in answers on. */
export const STACK_ENV = "mypurecloud.com";
const STACK_IP = "127.0.0.2";

export interface Stack {
  standin: GenesysStandin;
  pki: RegionPki;
  bao: OpenBao;
  app: App;
  config: Config;
  envoy: Envoy;
  logs: LogCapture;
  socketPath: string;
  addTenant(t: StackTenant): Promise<void>;
  /** Another Envoy from the shipped sidecar config against the same scopegate, reaching Check over `authz`. */
  startEnvoy(authz: "uds" | "tcp", timeoutMs?: number): Promise<Envoy>;
  stop(): Promise<void>;
}

export interface StackOptions {
  tenants: StackTenant[];
  config?: Record<string, unknown>;
  envoyTimeoutMs?: number;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const cleanup: (() => Promise<void>)[] = [];
  try {
    const dir = await mkdtemp(join(tmpdir(), "scopegate-stack-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const pki = makeRegionPki(dir, [{ env: STACK_ENV, ip: STACK_IP }]);
    const standin = await startGenesysStandin({ host: STACK_IP, tls: pki.serverFor(STACK_ENV) });
    cleanup.push(() => standin.close());
    const bao = await startOpenBao();
    cleanup.push(() => bao.stop());
    const socketPath = join(dir, "authz.sock");

    const addTenant = async (t: StackTenant): Promise<void> => {
      standin.addClient({ clientId: t.clientId, clientSecret: t.clientSecret, divisions: t.divisions, ...(t.expiresIn ? { expiresIn: t.expiresIn } : {}) });
      await kvPut(bao.address, bao.rootToken, "secret", `scopegate/tenants/${t.id}`, {
        client_id: t.clientId,
        client_secret: t.clientSecret,
        ...(t.via === "vault" ? { divisions: t.divisions.join(","), environment: STACK_ENV } : {}),
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
      environments: { [STACK_ENV]: { tokenUrl: standin.tokenUrl } },
      tokens: { caFile: pki.caFile },
      tenants: opts.tenants
        .filter((t) => t.via === "config")
        .map((t) => ({ id: t.id, divisions: t.divisions, environment: STACK_ENV })),
      discovery: { fromSecretStore: true, negativeCacheSeconds: 5 },
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

    const launch = async (authz: "uds" | "tcp", timeoutMs?: number): Promise<Envoy> => {
      const envoy = await startEnvoy({
        configYaml: envoyConfigFor({
          template: join(repoRoot, "deploy/envoy/envoy-sidecar.yaml"),
          authz: authz === "uds" ? { unixSocket: socketPath } : { tcp: `127.0.0.1:${app.server.tcpPort}` },
          upstreams: { [STACK_ENV]: { host: STACK_IP, port: Number(new URL(standin.url).port) } },
          upstreamTls: { caFile: pki.caFile },
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
