// The whole data path on loopback: Genesys stand-in, a real OpenBao dev server, scopegate in-process and a
// real Envoy built from the shipped deploy/envoy template. Used by the e2e tests, the demo and the benchmarks.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp, type App } from "../../src/app.js";
import { parseConfig, type Config } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/logger.js";
import { envoyConfigFor, startEnvoy, type Envoy } from "./envoy.js";
import { startGenesysStandin, type GenesysStandin } from "./genesys-standin.js";
import { LogCapture } from "./log-capture.js";
import { kvPut, startOpenBao, type OpenBao } from "./openbao.js";
import { repoRoot } from "./tools.js";

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
}

export interface Stack {
  standin: GenesysStandin;
  bao: OpenBao;
  app: App;
  config: Config;
  envoy: Envoy;
  logs: LogCapture;
  socketPath: string;
  addTenant(t: StackTenant): Promise<void>;
  /** A second Envoy from another template (e.g. the unix-socket one) against the same scopegate. */
  startEnvoy(template: "envoy-tcp.yaml" | "envoy-uds.yaml", timeoutMs?: number): Promise<Envoy>;
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
    const standin = await startGenesysStandin();
    cleanup.push(() => standin.close());
    const bao = await startOpenBao();
    cleanup.push(() => bao.stop());
    const dir = await mkdtemp(join(tmpdir(), "scopegate-stack-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const socketPath = join(dir, "authz.sock");

    const addTenant = async (t: StackTenant): Promise<void> => {
      standin.addClient({ clientId: t.clientId, clientSecret: t.clientSecret, divisions: t.divisions, ...(t.expiresIn ? { expiresIn: t.expiresIn } : {}) });
      await kvPut(bao.address, bao.rootToken, "secret", `scopegate/tenants/${t.id}`, {
        client_id: t.clientId,
        client_secret: t.clientSecret,
        // A discovered tenant's caller binding comes from its record: the stack's workload (LOCAL_IDENTITY).
        ...(t.via === "vault" ? { divisions: t.divisions.join(","), token_url: standin.tokenUrl, allowed_namespaces: STACK_NAMESPACE } : {}),
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
      tenants: opts.tenants
        .filter((t) => t.via === "config")
        .map((t) => ({ id: t.id, divisions: t.divisions, tokenUrl: standin.tokenUrl })),
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

    const launch = async (template: "envoy-tcp.yaml" | "envoy-uds.yaml", timeoutMs?: number): Promise<Envoy> => {
      const envoy = await startEnvoy({
        configYaml: envoyConfigFor({
          template: join(repoRoot, "deploy/envoy", template),
          authz: template === "envoy-uds.yaml" ? { unixSocket: socketPath } : { tcp: `127.0.0.1:${app.server.tcpPort}` },
          upstream: { host: "127.0.0.1", port: Number(new URL(standin.url).port) },
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        }),
        concurrency: 2,
      });
      cleanup.push(() => envoy.stop());
      return envoy;
    };
    const envoy = await launch("envoy-tcp.yaml", opts.envoyTimeoutMs);

    return {
      standin,
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
