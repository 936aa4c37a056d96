/**
 * The request budget fleet-wide: three scopegate apps (in-process, each its own Authorizer, metrics and Redis
 * connection) share one real redis-server (budgets.store: redis). The budget holds across them however the
 * requests are spread; Redis killed -> each app enforces its fallback share (budget / fallbackReplicas), says so
 * in /readyz's detail and in scopegate_budget_fallback, and nothing crashes; Redis back -> leases from Redis again,
 * and what was let through meanwhile is charged to the window first.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { budgetDetail } from "../../src/app/budget.js";
import { parseConfig } from "../../src/config/index.js";
import { CheckRequest } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { createLogger } from "../../src/observability/logger.js";
import { Deadline } from "../../src/util/deadline.js";
import { checkRequest } from "../support/check-requests.js";
import { standinEnvironments, TEST_ENV } from "../support/environments.js";
import { writeFileSecret } from "../support/file-secrets.js";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";
import { LogCapture } from "../support/log-capture.js";
import { waitFor } from "../support/ports.js";
import { startRedis, type TestRedis } from "../support/redis.js";
import fc from "fast-check";
import { LocalBudgetStore } from "../../src/budget/local-budget-store.js";
import { connectFleetRedis } from "../../src/fleet/redis.js";
import { RedisBudgetStore } from "../../src/fleet/redis-budget-store.js";

const BUDGET = 30;
const REPLICAS = 3;
const WINDOW_S = 3600;
const TENANTS = ["acme", "globex", "initech"];

let dir: string;
let standin: GenesysStandin;
let redis: TestRedis;
const apps: App[] = [];
const logs = new LogCapture();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-budget-fleet-"));
  standin = await startGenesysStandin();
  for (const t of TENANTS) {
    standin.addClient({ clientId: `${t}-client`, clientSecret: `${t}-BUDGET-secret`, divisions: ["d"] });
    await writeFileSecret(join(dir, "secrets"), t, `${t}-client`, `${t}-BUDGET-secret`);
  }
  redis = await startRedis();
  const config = parseConfig({
    listen: { tcp: null, unixSocket: join(dir, "authz.sock"), healthTcp: null },
    ...standinEnvironments(standin.tokenUrl),
    http: { listen: "127.0.0.1:0" },
    admin: { socket: null },
    secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
    tenants: TENANTS.map((id) => ({ id, divisions: ["d"], environment: TEST_ENV })),
    fleet: { redis: { url: redis.url, commandTimeoutMs: 200, connectTimeoutMs: 500 } },
    budgets: { requestsPerWindow: BUDGET, windowSeconds: WINDOW_S, store: "redis", fallbackReplicas: REPLICAS, retryStoreAfterMs: 300, lease: { maxChunk: 5, divisor: 4 } },
    reload: { watch: false },
  });
  // No listener is needed: checks go to each app's authorizer in-process (the path Envoy's Check takes after grpc-js).
  for (let i = 0; i < REPLICAS; i++) {
    apps.push(await startApp({ config: { ...config, listen: { ...config.listen, unixSocket: join(dir, `authz-${i}.sock`) } }, logger: createLogger("info", logs), env: {}, defaultMetrics: false }));
  }
  await waitFor(() => apps.every((a) => a.budget?.mode === "fleet"), 5000, { what: "budgets on redis" });
});
afterAll(async () => {
  for (const a of apps) await a.stop(500).catch(() => undefined);
  await redis?.stop();
  await standin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function check(app: App, tenant: string): Promise<{ decision: string; reason?: string | undefined }> {
  const bytes = CheckRequest.encode(checkRequest({ path: "/api/v2/users", headers: { "x-tenant-id": tenant } })).finish();
  const o = await app.authorizer.check(bytes, new Deadline(5000));
  return { decision: o.decision, reason: o.reason };
}

/** n checks for a tenant, spread round-robin over the apps, all in flight at once. */
async function burst(tenant: string, n: number): Promise<{ allowed: number; refused: string[] }> {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => check(apps[i % apps.length]!, tenant)));
  return { allowed: results.filter((r) => r.decision === "allow").length, refused: results.filter((r) => r.decision !== "allow").map((r) => r.reason ?? "") };
}

const secondsLeft = (): number => WINDOW_S - ((Date.now() / 1000) % WINDOW_S);

describe("request budget shared through Redis", () => {
  it("the Lua lease script answers exactly as the TypeScript rule (src/budget/window.ts grant) (property)", async () => {
    const fleet = await connectFleetRedis(parseConfig({
      secrets: { backend: "file", file: { directory: "/x" } },
      tenants: [{ id: "a", divisions: ["d"], environment: TEST_ENV }],
      fleet: { redis: { url: redis.url, keyPrefix: "prop:" } },
    }).fleet!.redis, { logger: { info: () => undefined, warn: () => undefined } });
    try {
      await waitFor(() => fleet.isUp(), 5000);
      const remote = new RedisBudgetStore(fleet);
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 100 }),
          fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
          fc.array(fc.record({ caller: fc.integer({ min: 0, max: 2 }), want: fc.integer({ min: 0, max: 30 }), need: fc.integer({ min: 0, max: 30 }), divisor: fc.integer({ min: 1, max: 10 }), debt: fc.integer({ min: 0, max: 5 }) }), { maxLength: 40 }),
          async (limit, callerLimit, asks) => {
            const tenant = `t${run++}`;
            const local = new LocalBudgetStore();
            for (const a of asks) {
              const r = { tenant, caller: callerLimit === undefined ? undefined : `c${a.caller}`, limit, callerLimit, windowMs: 3_600_000, want: a.want, need: a.need, divisor: a.divisor, debt: a.debt };
              const [x, y] = [local.lease(r), await remote.lease(r)];
              if (x.granted !== y.granted || x.limitedBy !== y.limitedBy) return false;
            }
            return true;
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      await fleet.close();
    }
  });

  it("holds fleet-wide: three replicas together never allow more than the budget in a window", async () => {
    if (secondsLeft() < 60) await sleep(secondsLeft() * 1000 + 200);
    const r = await burst("acme", 3 * BUDGET);
    expect(r.allowed).toBeLessThanOrEqual(BUDGET);
    // Leases shrink as the window fills (1/divisor of what is left), so little is stranded in another replica.
    expect(r.allowed).toBeGreaterThanOrEqual(BUDGET - REPLICAS);
    expect(new Set(r.refused)).toEqual(new Set(["budget_exhausted"]));
    const hash = redis.cli("HGET", "scopegate:budget:{acme}", "n").trim();
    expect(Number(hash)).toBeLessThanOrEqual(BUDGET);
    // More requests may still spend what a replica had leased and not used, but never past the budget.
    const again = await burst("acme", 3 * BUDGET);
    expect(r.allowed + again.allowed).toBeLessThanOrEqual(BUDGET);
    // The key names the tenant; nothing in Redis is a secret or a token.
    const dump = redis.cli("--no-raw", "HGETALL", "scopegate:budget:{acme}");
    expect(dump).not.toContain("secret");
    for (const token of standin.issuedTokens.keys()) expect(dump).not.toContain(token);
  });

  it("Redis killed: each replica enforces its fallback share, reports it, and nothing crashes; Redis back: fleet again, the fallback's spend charged", async () => {
    if (secondsLeft() < 60) await sleep(secondsLeft() * 1000 + 200);
    await redis.kill();
    // Every replica lets through BUDGET / REPLICAS of globex (it had leased none of it in this window) and no more.
    const down = await burst("globex", 2 * BUDGET);
    expect(down.allowed).toBe(BUDGET);
    expect(new Set(down.refused)).toEqual(new Set(["budget_exhausted"]));
    for (const a of apps) {
      expect(a.budget?.mode).toBe("fallback");
      expect(budgetDetail(a.budget)).toEqual({ budget: "fallback" });
      const readyz = await fetch(`http://127.0.0.1:${a.http!.port}/readyz`);
      expect(readyz.status).toBe(200); // still serving: the fallback is a state, not unreadiness
      expect(await readyz.json()).toMatchObject({ status: "ready", budget: "fallback" });
      expect(await a.metrics.registry.getSingleMetricAsString("scopegate_budget_fallback")).toMatch(/scopegate_budget_fallback 1/);
      expect(await a.metrics.registry.getSingleMetricAsString("scopegate_budget_leases_total")).toMatch(/outcome="unavailable"/);
    }

    await redis.restart();
    await sleep(400); // past retryStoreAfterMs
    await waitFor(async () => (await check(apps[0]!, "initech")).decision === "allow" && apps[0]!.budget?.mode === "fleet", 10_000, { what: "budget on redis again" });
    for (const a of apps) await check(a, "initech");
    for (const a of apps) expect(a.budget?.mode).toBe("fleet");
    expect(await (await fetch(`http://127.0.0.1:${apps[1]!.http!.port}/readyz`)).json()).toMatchObject({ budget: "fleet" });
    // Each replica keeps globex to its fallback share for the rest of the window and reports the 10 it let through,
    // so the fresh Redis counts the whole budget as spent.
    const back = await burst("globex", REPLICAS * 2);
    expect(back.allowed).toBe(0);
    await waitFor(() => redis.cli("HGET", "scopegate:budget:{globex}", "n").trim() === String(BUDGET), 5000, { what: "fallback spend reported" });
    for (const a of apps) expect(await a.metrics.registry.getSingleMetricAsString("scopegate_budget_fallback")).toMatch(/scopegate_budget_fallback 0/);
  });
});
