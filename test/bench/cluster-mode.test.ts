// Multi-worker mode as a process: `node dist/main.js serve --workers 2` with the file secret store and the
// Genesys stand-in. Checks over several connections reach both workers, and each tenant
// still costs exactly one token request; the primary's /metrics counts the checks of both workers and survives a
// worker's death; every worker reports SERVING once the primary's store answered; SIGTERM stops primary and workers.
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { checkRequestFor, encodeCheckRequest, requestSpecs } from "../../scripts/bench/check-requests.js";
import { childPids, startChild, type Child } from "../../scripts/bench/child.js";
import { CheckClient } from "../../scripts/bench/grpc-client.js";
import { CheckRequest } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { checkClient } from "../support/grpc-clients.js";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";
import { freePort, waitFor } from "../support/ports.js";
import { repoRoot } from "../support/tools.js";
import { standinEnvironments, TEST_ENV } from "../support/environments.js";

const TENANTS = ["acme", "globex", "initech", "umbrella", "hooli"];
let dir: string;
let standin: GenesysStandin;
let cluster: Child;
let tcp: string;
let httpPort: number;
let configYaml: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-cluster-"));
  standin = await startGenesysStandin();
  for (const id of TENANTS) {
    standin.addClient({ clientId: `${id}-client`, clientSecret: `${id}-SECRET`, divisions: [`div-${id}`] });
    await mkdir(join(dir, "secrets", id), { recursive: true });
    await writeFile(join(dir, "secrets", id, "client_id"), `${id}-client`);
    await writeFile(join(dir, "secrets", id, "client_secret"), `${id}-SECRET`);
  }
  tcp = `127.0.0.1:${await freePort()}`;
  httpPort = await freePort();
  const config = {
    listen: { tcp, unixSocket: join(dir, "authz.sock") },
    http: { listen: `127.0.0.1:${httpPort}` },
    admin: { socket: join(dir, "admin.sock") },
    secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
    ...standinEnvironments(standin.tokenUrl),
    tenants: TENANTS.map((id) => ({ id, divisions: [`div-${id}`], environment: TEST_ENV })),
    reload: { watch: true, pollIntervalMs: 200 },
    // A line per check, allows too (the default logs denials only): each line names the worker that answered.
    logging: { level: "info", decisions: "all" },
  };
  configYaml = YAML.stringify(config);
  await writeFile(join(dir, "config.yaml"), configYaml);
  cluster = startChild("cluster", process.execPath, [join(repoRoot, "dist/main.js"), "serve", "--config", join(dir, "config.yaml"), "--workers", "2"], {
    cwd: repoRoot,
    stdout: "capture",
  });
  await waitFor(() => /scopegate cluster serving/.test(cluster.stdout()) || !cluster.isRunning(), 30_000, { what: "cluster serving" });
  if (!cluster.isRunning()) throw new Error(`cluster exited:\n${cluster.stderr()}`);
});

afterAll(async () => {
  await cluster?.stop(5_000);
  await standin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function scrape(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

interface Sample {
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** The samples of one series name in Prometheus text format (label values here never contain quotes). */
function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

/** scopegate_checks_total by "decision|reason". */
function checkCounts(text: string): Map<string, number> {
  return new Map(samples(text, "scopegate_checks_total").map((s) => [`${s.labels["decision"]}|${s.labels["reason"]}`, s.value]));
}

describe("multi-worker mode", () => {
  it("serves checks from both workers over TCP and mints one token per tenant", async () => {
    expect(childPids(cluster.pid)).toHaveLength(2);
    const requests = requestSpecs(TENANTS, 40).map((s, i) => encodeCheckRequest(checkRequestFor(s, i)));
    // Four connections, handed to the workers round-robin by the primary.
    const clients = Array.from({ length: 4 }, () => new CheckClient(tcp));
    try {
      const answers = await Promise.all(clients.flatMap((c) => requests.map((r) => c.check(r))));
      expect(answers.filter((a) => !a.allowed).map((a) => a.reason)).toEqual([]);
    } finally {
      for (const c of clients) c.close();
    }
    expect(standin.tokenRequests).toBe(TENANTS.length);
    for (const id of TENANTS) expect(standin.tokenRequestsFor(`${id}-client`)).toBe(1);
    const workers = new Set(
      cluster
        .stdout()
        .split("\n")
        .filter((l) => l.includes('"msg":"check"'))
        .map((l) => (JSON.parse(l) as { worker?: number }).worker),
    );
    expect([...workers].sort()).toEqual([1, 2]);
  });

  it("serves the unix socket (from worker 1) and /readyz from the primary", async () => {
    const client = new CheckClient(`unix://${join(dir, "authz.sock")}`);
    try {
      const [request] = requestSpecs(["acme"], 1).map((s, i) => encodeCheckRequest(checkRequestFor(s, i)));
      expect((await client.check(request!)).allowed).toBe(true);
    } finally {
      client.close();
    }
    await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200, 10_000, { what: "/readyz 200" });
  });

  it("counts every worker's checks, by decision and reason, in the primary's /metrics", async () => {
    const beforeText = await scrape();
    const before = checkCounts(beforeText);
    const specs = [
      ...requestSpecs(TENANTS, 30).map((s) => ({ spec: s, want: "allow|" })),
      ...requestSpecs(["nobody"], 10).map((s) => ({ spec: s, want: "deny|tenant_unknown" })),
      // acme asking for globex's division
      ...Array.from({ length: 8 }, () => ({
        spec: { tenant: "acme", division: "div-globex", path: "/api/v2/routing/queues?divisionId=div-globex" },
        want: "deny|division_forbidden",
      })),
    ];
    const K = specs.length;
    const requests = specs.map(({ spec }, i) => encodeCheckRequest(checkRequestFor(spec, i)));
    const requestIds = new Set(requests.map((r) => CheckRequest.decode(r).attributes?.request?.http?.headers["x-request-id"]));
    const clients = Array.from({ length: 4 }, () => new CheckClient(tcp));
    try {
      const answers = await Promise.all(requests.map((r, i) => clients[i % clients.length]!.check(r)));
      expect(answers.map((a) => (a.allowed ? "allow|" : `deny|${a.reason}`))).toEqual(specs.map((s) => s.want));
    } finally {
      for (const c of clients) c.close();
    }
    // Both workers answered some of these checks (their decision lines), so the sum below spans processes.
    // Matched by request id: log lines are buffered (up to 100 ms), so earlier tests' lines may still arrive.
    const checkLines = (): { worker?: number; decision?: string; tokenCache?: string }[] =>
      cluster
        .stdout()
        .split("\n")
        .filter((l) => l.includes('"msg":"check"'))
        .map((l) => JSON.parse(l) as { worker?: number; requestId?: string; decision?: string; tokenCache?: string })
        .filter((l) => requestIds.has(l.requestId));
    await waitFor(() => checkLines().length === K, 5_000, { what: "a decision line per check" });
    // An allow's line says whether its token came from the cache (logging.decisions: all, as configured above).
    for (const l of checkLines().filter((c) => c.decision === "allow")) expect(["hit", "miss"]).toContain(l.tokenCache);
    expect([...new Set(checkLines().map((l) => l.worker))].sort()).toEqual([1, 2]);

    const text = await scrape();
    const after = checkCounts(text);
    const delta = Object.fromEntries([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]).filter(([, d]) => d !== 0));
    expect(delta).toEqual({ "allow|": 30, "deny|tenant_unknown": 10, "deny|division_forbidden": 8 });
    const durationCount = (t: string): number => samples(t, "scopegate_check_duration_seconds_count").reduce((n, s) => n + s.value, 0);
    expect(durationCount(text) - durationCount(beforeText)).toBe(K);
    // The primary's own metrics are there too: it made every token request.
    expect(samples(text, "scopegate_token_requests_total")).toEqual([{ labels: { outcome: "ok" }, value: standin.tokenRequests }]);
    // Process metrics stay per process.
    expect(samples(text, "scopegate_process_start_time_seconds").map((s) => s.labels["worker"]).sort()).toEqual(["1", "2", "primary"]);
    expect(samples(text, "scopegate_config_last_reload_valid")).toEqual([{ labels: {}, value: 1 }]);
  });

  it("reports a rejected config reload on the primary's /readyz and /metrics, and the recovery", async () => {
    const readyz = async (): Promise<{ status: number; body: { configReload?: string } }> => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      return { status: res.status, body: (await res.json()) as { configReload?: string } };
    };
    const reloads = async (): Promise<Record<string, number>> =>
      Object.fromEntries(samples(await scrape(), "scopegate_config_reloads_total").map((s) => [s.labels["result"]!, s.value]));
    // Replaced whole, as a ConfigMap update does: the watcher never reads a half-written file.
    const replaceConfig = async (text: string): Promise<void> => {
      await writeFile(join(dir, "config.yaml.new"), text);
      await rename(join(dir, "config.yaml.new"), join(dir, "config.yaml"));
    };
    await replaceConfig(configYaml.replace("tenants:", "tenants: 7\nunused:"));
    await waitFor(async () => (await readyz()).body.configReload === "rejected", 10_000, { what: "/readyz reports the rejected reload" });
    expect((await readyz()).status).toBe(200);
    expect(samples(await scrape(), "scopegate_config_last_reload_valid")).toEqual([{ labels: {}, value: 0 }]);
    expect(await reloads()).toEqual({ invalid: 1 });

    await replaceConfig(configYaml);
    await waitFor(async () => (await readyz()).body.configReload === undefined, 10_000, { what: "/readyz clean after a valid reload" });
    expect(samples(await scrape(), "scopegate_config_last_reload_valid")).toEqual([{ labels: {}, value: 1 }]);
    expect(await reloads()).toEqual({ invalid: 1, ok: 1 });
  });

  it("answers /metrics at once when a worker dies, and counts the restarted worker again", async () => {
    const [victim] = childPids(cluster.pid);
    process.kill(victim!, "SIGKILL");
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
    expect(res.status).toBe(200);
    // Well inside the 2 s a live worker gets to answer: nothing waited for the dead one.
    expect(performance.now() - started).toBeLessThan(1_500);
    await waitFor(
      async () => {
        const pids = childPids(cluster.pid);
        if (pids.length !== 2 || pids.includes(victim!)) return false;
        const workers = samples(await scrape(), "scopegate_process_start_time_seconds").map((s) => s.labels["worker"]);
        return workers.includes("1") && workers.includes("2");
      },
      15_000,
      { what: "the killed worker restarted and scraped" },
    );
  });

  it("has every worker, the restarted one too, report SERVING over grpc.health.v1 once the primary's store answered", async () => {
    // Workers read no secrets: the primary tells each listening worker that its secret store has answered.
    // Four connections, handed to the two workers round-robin.
    const clients = Array.from({ length: 4 }, () => checkClient(tcp));
    try {
      await waitFor(async () => (await Promise.all(clients.map((c) => c.health()))).every((s) => s === "SERVING"), 10_000, { what: "every worker SERVING" });
    } finally {
      for (const c of clients) c.close();
    }
  });

  it("stops primary and workers on SIGTERM", async () => {
    const workers = childPids(cluster.pid);
    await cluster.stop(15_000);
    expect(await cluster.exited).toEqual({ code: 0, signal: null });
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  });
});
