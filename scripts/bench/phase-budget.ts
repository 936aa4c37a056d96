// The per-tenant request budget (issue 14): what enforcing it costs a cached Check through a real Envoy, and the
// two mechanisms it could use, measured side by side at a fixed rate (wrk, interleaved A B C / C B A):
//   off       Envoy (shipped sidecar config) + scopegate without `budgets`;
//   scopegate Envoy + scopegate with budgets.store redis: leases of 20 requests from redis-server, spent locally;
//   ratelimit Envoy + scopegate (no budget) + Envoy's rate-limit filter -> envoyproxy/ratelimit (gRPC) -> the same
//             redis-server, one descriptor per request from the header scopegate sets (x-scopegate-upstream:
//             the cost of one descriptor does not depend on its value).
// Budgets are set far above the load so every request is allowed and each row measures the allow path.
// CPU µs/req counts every process the mechanism adds: scopegate, and redis-server and the ratelimit service.
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import YAML from "yaml";
import { envoyConfigFor, startEnvoy, type Envoy } from "../../test/support/envoy.js";
import { freePort, waitForTcp } from "../../test/support/ports.js";
import { startRedis, type TestRedis } from "../../test/support/redis.js";
import { repoRoot } from "../../test/support/tools.js";
import { startChild, treeCpuMs } from "./child.js";
import { httpHeadersFor, requestSpecs } from "./check-requests.js";
import type { Context } from "./context.js";
import { EDGE_CONCURRENCY, EDGE_TEMPLATE, startUpstream } from "./envoys.js";
import type { LoadResult } from "./load-result.js";
import { interleave, type Measured } from "./phase-direct.js";
import { medianLoad } from "./report.js";
import { startScopegate, type Scopegate } from "./scopegate-process.js";
import { BENCH_ENV } from "./world.js";
import { runWrk, wrkCommand, writeWrkScript, type WrkRun } from "./wrk.js";

/** The ratelimit service binary (`GOBIN=<dir> go install github.com/envoyproxy/ratelimit/src/service_cmd@<version>`). */
export const RATELIMIT_BIN_ENV = "SCOPEGATE_RATELIMIT_BIN";
export const RATELIMIT_MODULE = "github.com/envoyproxy/ratelimit/src/service_cmd@v1.4.1-0.20260122083618-3fb702589d36";
const FIXED = { threads: 1, connections: 20 };
const HUGE = 1_000_000_000;

interface Subject {
  readonly name: string;
  readonly envoy: Envoy;
  /** Every process whose CPU the mechanism costs. */
  readonly pids: readonly number[];
}

export async function budgetPhase(ctx: Context, off: Scopegate): Promise<void> {
  const stops: (() => Promise<void>)[] = [];
  try {
    const redis = await startRedis();
    stops.push(() => redis.stop());
    const withBudget = await startScopegate({
      world: ctx.world,
      dir: ctx.dir,
      name: "scopegate-budget",
      configuredTenants: ctx.hot,
      logLevel: "info",
      extraConfig: {
        fleet: { redis: { url: redis.url } },
        budgets: { requestsPerWindow: HUGE, store: "redis", lease: { maxChunk: 20, divisor: 8 } },
      },
    });
    stops.push(() => withBudget.stop());
    const upstream = await startUpstream();
    stops.push(() => upstream.stop());
    const socketOf = (s: Scopegate): string => s.udsTarget.slice("unix://".length);
    const edge = async (s: Scopegate, rateLimit?: number): Promise<Envoy> => {
      const base = envoyConfigFor({
        template: join(repoRoot, EDGE_TEMPLATE),
        authz: { unixSocket: socketOf(s) },
        upstreams: { [BENCH_ENV]: { host: "127.0.0.1", port: upstream.port } },
        upstreamTls: "plaintext",
      });
      const envoy = await startEnvoy({ configYaml: rateLimit === undefined ? base : withRateLimitFilter(base, rateLimit), concurrency: EDGE_CONCURRENCY });
      stops.push(() => envoy.stop());
      return envoy;
    };
    const redisPid = redis.process().child.pid!;
    const subjects: Subject[] = [
      { name: "Envoy + scopegate, budget off", envoy: await edge(off), pids: [off.child.pid] },
      { name: "Envoy + scopegate, budget on (Redis leases)", envoy: await edge(withBudget), pids: [withBudget.child.pid, redisPid] },
    ];
    const rl = await startRateLimit(ctx.dir, redis);
    if (rl) {
      stops.push(rl.stop);
      subjects.push({ name: "Envoy + scopegate + rate-limit filter -> envoyproxy/ratelimit", envoy: await edge(off, rl.grpcPort), pids: [off.child.pid, rl.pid, redisPid] });
    } else {
      ctx.notes.push(`Budget rows: the envoyproxy/ratelimit row was skipped: set ${RATELIMIT_BIN_ENV} to a service_cmd built with \`GOBIN=<dir> go install ${RATELIMIT_MODULE}\`.`);
    }

    const script = join(ctx.dir, "budget-requests.lua");
    await writeWrkScript(script, requestSpecs(ctx.hot, 100).map((s) => ({ path: s.path, headers: httpHeadersFor(s) })));
    for (const s of subjects) await expectOk(s, ctx.hot[0]!);
    const run = (s: Subject, durationS: number, rate?: number): WrkRun => ({ url: s.envoy.url, scriptFile: script, ...FIXED, durationS, ...(rate ? { rate } : {}) });
    for (const s of subjects) await runWrk(run(s, ctx.plan.warmS, ctx.plan.fixedRate));
    const results = await interleave(subjects, ctx.plan.rounds, (s) => withCpuOf(s.pids, () => runWrk(run(s, ctx.plan.fixedS, ctx.plan.fixedRate))));
    const base = medianLoad(results.get(subjects[0]!)!);
    for (const s of subjects) {
      const load = medianLoad(results.get(s)!);
      const versus =
        s === subjects[0]
          ? "baseline"
          : `${signedMs(load.p50 - base.p50)} p50, ${signedMs(load.p99 - base.p99)} p99, ${signedUs((load.cpuUsPerReq ?? 0) - (base.cpuUsPerReq ?? 0))} CPU/req`;
      ctx.rows.push({ section: "budget", label: s.name, load, versus, command: wrkCommand(run(s, ctx.plan.fixedS, ctx.plan.fixedRate)) });
    }
    ctx.notes.push(
      "Budget rows: budgets far above the load, so every request is allowed; scopegate leases 20 requests per Redis round trip (`budgets.lease.maxChunk`), the ratelimit service asks Redis once per request. CPU µs/req sums the processes each setup adds (scopegate; + redis-server; + the ratelimit service), not Envoy's.",
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

/** The shipped sidecar config plus Envoy's rate-limit filter after ext_authz and a descriptor on the virtual host. */
export function withRateLimitFilter(configYaml: string, grpcPort: number): string {
  const config = YAML.parse(configYaml) as Record<string, any>;
  const listener = config.static_resources.listeners.find((l: { name: string }) => l.name === "egress");
  const hcm = listener.filter_chains[0].filters[0].typed_config;
  const filters = hcm.http_filters as { name: string }[];
  const at = filters.findIndex((f) => f.name === "envoy.filters.http.ext_authz");
  filters.splice(at + 1, 0, {
    name: "envoy.filters.http.ratelimit",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit",
      domain: "scopegate",
      failure_mode_deny: true,
      timeout: "0.2s",
      rate_limit_service: { transport_api_version: "V3", grpc_service: { envoy_grpc: { cluster_name: "ratelimit" } } },
    },
  } as { name: string });
  for (const vh of hcm.route_config.virtual_hosts) vh.rate_limits = [{ actions: [{ request_headers: { header_name: "x-scopegate-upstream", descriptor_key: "tenant" } }] }];
  config.static_resources.clusters.push({
    name: "ratelimit",
    type: "STATIC",
    connect_timeout: "1s",
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: { cluster_name: "ratelimit", endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: grpcPort } } } }] }] },
  });
  return YAML.stringify(config);
}

async function startRateLimit(dir: string, redis: TestRedis): Promise<{ pid: number; grpcPort: number; stop: () => Promise<void> } | undefined> {
  const bin = process.env[RATELIMIT_BIN_ENV];
  if (!bin || !existsSync(bin)) return undefined;
  const root = join(dir, "ratelimit-runtime");
  await mkdir(join(root, "ratelimit", "config"), { recursive: true });
  await writeFile(
    join(root, "ratelimit", "config", "scopegate.yaml"),
    YAML.stringify({ domain: "scopegate", descriptors: [{ key: "tenant", rate_limit: { unit: "minute", requests_per_unit: HUGE } }] }),
  );
  const [http, grpc, debug] = [await freePort(), await freePort(), await freePort()];
  const child = startChild("ratelimit", bin, [], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      USE_STATSD: "false",
      LOG_LEVEL: "warn",
      REDIS_SOCKET_TYPE: "tcp",
      REDIS_URL: `127.0.0.1:${redis.port}`,
      RUNTIME_ROOT: root,
      RUNTIME_SUBDIRECTORY: "ratelimit",
      RUNTIME_WATCH_ROOT: "false",
      HOST: "127.0.0.1",
      PORT: String(http),
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: String(grpc),
      DEBUG_HOST: "127.0.0.1",
      DEBUG_PORT: String(debug),
    },
    stdout: "tail",
  });
  await waitForTcp("127.0.0.1", grpc, 20_000).catch(async (err: unknown) => {
    await child.stop(1_000);
    throw new Error(`ratelimit service did not start: ${(err as Error).message}\n${child.stderr()}`);
  });
  return { pid: child.pid, grpcPort: grpc, stop: () => child.stop(5_000) };
}

async function withCpuOf(pids: readonly number[], load: () => Promise<LoadResult>): Promise<Measured> {
  const before = pids.map((p) => treeCpuMs(p));
  const r = await load();
  const cpuMs = pids.reduce((sum, p, i) => sum + treeCpuMs(p) - before[i]!, 0);
  return { ...r, cpuUsPerReq: r.requests > 0 ? (cpuMs * 1000) / r.requests : Number.NaN };
}

async function expectOk(s: Subject, tenant: string): Promise<void> {
  const res = await fetch(`${s.envoy.url}/api/v2/flows`, { headers: { "x-tenant-id": tenant }, signal: AbortSignal.timeout(10_000) });
  await res.body?.cancel();
  if (res.status !== 200) throw new Error(`${s.name}: expected 200 through Envoy, got ${res.status} (${res.headers.get("x-scopegate-reason") ?? ""})`);
}

function signedMs(ms: number): string {
  return `${ms < 0 ? "−" : "+"}${Math.abs(ms).toFixed(2)} ms`;
}

function signedUs(us: number): string {
  return `${us < 0 ? "−" : "+"}${Math.abs(us).toFixed(0)} µs`;
}
