// Steady traffic through a real Envoy to scopegate running as its own process (`node dist/main.js serve`),
// with short-lived tokens so refreshes happen throughout. Samples errors, latency and scopegate's RSS per
// interval. `npm run soak` runs it for minutes; test/e2e/soak-smoke.test.ts runs a few seconds of it.
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { envoyConfigFor, startEnvoy, type Envoy } from "./envoy.js";
import { startGenesysStandin, type GenesysStandin } from "./genesys-standin.js";
import { kvPut, startOpenBao, type OpenBao } from "./openbao.js";
import { waitFor } from "./ports.js";
import { spawnManaged, type ManagedProcess } from "./processes.js";
import { repoRoot } from "./tools.js";
import { TEST_ENV } from "./environments.js";

/** The environment of every soak tenant; its token URL is the plain-HTTP stand-in. */
const SOAK_ENV = TEST_ENV;

export interface SoakOptions {
  readonly durationMs: number;
  /** Requests per second, spread evenly over the tenants. */
  readonly rate: number;
  readonly tenants: number;
  /** Token lifetime at the stand-in (seconds): short, so tokens expire and refresh during the run. */
  readonly tokenLifetimeSeconds: number;
  readonly sampleEveryMs: number;
  readonly onSample?: (s: SoakSample) => void;
}

export interface SoakSample {
  readonly atSeconds: number;
  readonly requests: number;
  readonly non200: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly rssMb: number;
}

export interface SoakResult {
  readonly samples: SoakSample[];
  readonly requests: number;
  readonly non200: number;
  readonly errors: number;
  /** Upstream requests whose token or divisions did not belong to the tenant that sent them. */
  readonly mismatches: number;
  readonly upstreamRejected: number;
  readonly tokenRequests: number;
  /** Non-200 answers by "status reason" (the x-scopegate-reason header, or "envoy" when Envoy answered itself). */
  readonly failures: Record<string, number>;
  /** scopegate's own warn/error log lines, counted by message and reason. */
  readonly scopegateWarnings: Record<string, number>;
  readonly command: string;
}

const MAX_IN_FLIGHT = 256;

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const standin: GenesysStandin = await startGenesysStandin();
    cleanup.push(() => standin.close());
    const bao: OpenBao = await startOpenBao();
    cleanup.push(() => bao.stop());
    const dir = await mkdtemp(join(tmpdir(), "scopegate-soak-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));

    const tenants = Array.from({ length: opts.tenants }, (_, i) => `soak-${String(i).padStart(3, "0")}`);
    for (const id of tenants) {
      standin.addClient({ clientId: `${id}-client`, clientSecret: `${id}-secret`, divisions: [`div-${id}`], expiresIn: opts.tokenLifetimeSeconds });
      await kvPut(bao.address, bao.rootToken, "secret", `scopegate/tenants/${id}`, {
        client_id: `${id}-client`,
        client_secret: `${id}-secret`,
        divisions: `div-${id}`,
        environment: SOAK_ENV,
      });
    }
    const socket = join(dir, "authz.sock");
    const configFile = join(dir, "config.yaml");
    await writeFile(
      configFile,
      YAML.stringify({
        listen: { tcp: null, unixSocket: socket },
        http: { listen: null },
        admin: { socket: join(dir, "admin.sock") },
        secrets: { backend: "vault", vault: { address: bao.address, auth: { method: "token", token: { env: "SOAK_VAULT_TOKEN" } } } },
        environments: { [SOAK_ENV]: { tokenUrl: standin.tokenUrl } },
        allowPlainHttpLoopbackForTesting: true,
        // Every soak tenant is bound to the one workload Envoy stands for (no mTLS to scopegate here).
        discovery: { fromSecretStore: true, defaultBinding: { allowedNamespaces: ["soak"] } },
        callers: { localIdentity: "spiffe://cluster.local/ns/soak/sa/app" },
        tokens: { skewSeconds: 1 },
        logging: { level: "warn" },
      }),
    );
    const args = [join(repoRoot, "dist/main.js"), "serve", "--config", configFile];
    const sg: ManagedProcess = spawnManaged("scopegate", process.execPath, args, {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SOAK_VAULT_TOKEN: bao.rootToken },
    });
    cleanup.push(() => sg.stop());
    await waitFor(async () => (await import("node:fs")).existsSync(socket), 15_000, { what: "scopegate socket" });
    const envoy: Envoy = await startEnvoy({
      configYaml: envoyConfigFor({
        template: join(repoRoot, "deploy/envoy/envoy-sidecar.yaml"),
        authz: { unixSocket: socket },
        upstreams: { [SOAK_ENV]: { host: "127.0.0.1", port: Number(new URL(standin.url).port) } },
        // The soak measures scopegate under steady load; TLS to the stand-in would only add Envoy's own work.
        upstreamTls: "plaintext",
      }),
      concurrency: 1,
    });
    cleanup.push(() => envoy.stop());

    const samples: SoakSample[] = [];
    let requests = 0;
    let non200 = 0;
    let errors = 0;
    let window: number[] = [];
    let inFlight = 0;
    const failures: Record<string, number> = {};
    const started = Date.now();
    const interval = 1000 / opts.rate;
    let nextSampleAt = started + opts.sampleEveryMs;
    const pending = new Set<Promise<void>>();
    for (let n = 0; Date.now() - started < opts.durationMs; n++) {
      const due = started + n * interval;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (inFlight >= MAX_IN_FLIGHT) {
        errors++; // the system under test is not keeping up: count it, do not queue without bound
        continue;
      }
      const tenant = tenants[n % tenants.length]!;
      const t0 = performance.now();
      inFlight++;
      const p = fetch(`${envoy.url}/api/v2/routing/queues`, { headers: { "x-tenant-id": tenant }, signal: AbortSignal.timeout(5000) })
        .then(async (res) => {
          await res.arrayBuffer();
          if (res.status !== 200) {
            non200++;
            const key = `${res.status} ${res.headers.get("x-scopegate-reason") ?? "envoy"}`;
            failures[key] = (failures[key] ?? 0) + 1;
          }
        })
        .catch(() => {
          errors++;
        })
        .finally(() => {
          inFlight--;
          requests++;
          window.push(performance.now() - t0);
          pending.delete(p);
        });
      pending.add(p);
      if (Date.now() >= nextSampleAt) {
        samples.push(sample((Date.now() - started) / 1000, requests, non200, errors, window, sg.child.pid));
        opts.onSample?.(samples.at(-1)!);
        window = [];
        nextSampleAt += opts.sampleEveryMs;
      }
    }
    await Promise.all(pending);
    samples.push(sample((Date.now() - started) / 1000, requests, non200, errors, window, sg.child.pid));
    opts.onSample?.(samples.at(-1)!);

    let mismatches = 0;
    for (const r of standin.received) {
      const divisions = new URLSearchParams(r.query).getAll("divisionId");
      const owner = r.tokenClientId?.replace(/-client$/, "");
      if (r.status !== 200 || !owner || divisions.join() !== `div-${owner}`) mismatches++;
    }
    return {
      samples,
      requests,
      non200,
      errors,
      mismatches,
      upstreamRejected: standin.received.filter((r) => r.status !== 200).length,
      tokenRequests: standin.tokenRequests,
      failures,
      scopegateWarnings: tallyWarnings(sg.stdout()),
      command: `node dist/main.js serve --config <generated: vault discovery, ${opts.tenants} tenants> behind deploy/envoy/envoy-sidecar.yaml`,
    };
  } finally {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  }
}

function sample(atSeconds: number, requests: number, non200: number, errors: number, window: number[], pid: number | undefined): SoakSample {
  const sorted = [...window].sort((a, b) => a - b);
  const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0);
  return { atSeconds, requests, non200, errors, p50Ms: round(q(0.5)), p99Ms: round(q(0.99)), rssMb: round(rssMb(pid)) };
}

function tallyWarnings(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of stdout.split("\n")) {
    try {
      const r = JSON.parse(line) as { level?: number; msg?: string; reason?: string; outcome?: string };
      if ((r.level ?? 0) < 40) continue;
      const key = [r.msg, r.reason ?? r.outcome].filter(Boolean).join(" ");
      out[key] = (out[key] ?? 0) + 1;
    } catch {
      /* not a log line */
    }
  }
  return out;
}

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
