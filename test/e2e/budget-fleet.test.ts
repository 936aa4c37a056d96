/**
 * The request budget fleet-wide through real Envoys: two scopegate replicas (each behind its own Envoy running the
 * shipped sidecar config) share one redis-server (budgets.store: redis). A tenant sending twice its budget, spread
 * over both, gets 429 for the excess and the Genesys stand-in receives at most the budget with its token; Redis
 * killed, both keep answering with their fallback share (budget / fallbackReplicas each), no crash, no 5xx.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { parseConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/logger.js";
import { envoyConfigFor, startEnvoy, type Envoy } from "../support/envoy.js";
import { startRedis, type TestRedis } from "../support/redis.js";
import { send, startStack, STACK_ENV, type Stack } from "../support/stack.js";
import { repoRoot } from "../support/tools.js";

const BUDGET = 20;
const WINDOW_S = 3600;
const ACME = { id: "acme", divisions: ["div-acme"], clientId: "acme-client", clientSecret: "acme-FLEET-1", via: "config" } as const;
const GLOBEX = { id: "globex", divisions: ["div-globex"], clientId: "globex-client", clientSecret: "globex-FLEET-2", via: "config" } as const;

let redis: TestRedis;
let stack: Stack;
let second: App;
let secondEnvoy: Envoy;

beforeAll(async () => {
  redis = await startRedis();
  stack = await startStack({
    tenants: [{ ...ACME, divisions: [...ACME.divisions] }, { ...GLOBEX, divisions: [...GLOBEX.divisions] }],
    config: {
      fleet: { redis: { url: redis.url, commandTimeoutMs: 200, connectTimeoutMs: 500 } },
      budgets: { requestsPerWindow: BUDGET, windowSeconds: WINDOW_S, store: "redis", fallbackReplicas: 2, lease: { maxChunk: 4, divisor: 4 } },
    },
  });
  // The second replica: the same config on its own socket, behind its own Envoy.
  const socket = join(stack.dir, "authz-2.sock");
  second = await startApp({
    config: parseConfig({ ...stack.config, listen: { tcp: null, unixSocket: socket } }),
    logger: createLogger("info", stack.logs),
    env: { SCOPEGATE_TEST_VAULT_TOKEN: stack.bao.rootToken },
    defaultMetrics: false,
  });
  secondEnvoy = await startEnvoy({
    configYaml: envoyConfigFor({
      template: join(repoRoot, "deploy/envoy/envoy-sidecar.yaml"),
      authz: { unixSocket: socket },
      upstreams: { [STACK_ENV]: { host: "127.0.0.2", port: Number(new URL(stack.standin.url).port) } },
      upstreamTls: { caFile: stack.pki.caFile },
    }),
    concurrency: 2,
  });
});
afterAll(async () => {
  await secondEnvoy?.stop();
  await second?.stop(500);
  await stack?.stop();
  await redis?.stop();
});

const secondsLeft = (): number => WINDOW_S - ((Date.now() / 1000) % WINDOW_S);
const upstreamFor = (clientId: string): number => stack.standin.received.filter((r) => r.tokenClientId === clientId).length;

/** n requests for a tenant, alternating between the two replicas' Envoys, all in flight at once. */
function burst(tenant: string, n: number) {
  return Promise.all(Array.from({ length: n }, (_, i) => send(i % 2 === 0 ? stack.envoy : secondEnvoy, "/api/v2/routing/queues", { "x-tenant-id": tenant })));
}

describe("request budget across two replicas through Envoy", () => {
  it("2x the budget spread over both replicas: the excess gets 429, upstream sees at most the budget", async () => {
    if (secondsLeft() < 60) await sleep(secondsLeft() * 1000 + 200);
    const before = upstreamFor(ACME.clientId);
    const answers = await burst("acme", 2 * BUDGET);
    const ok = answers.filter((r) => r.status === 200).length;
    expect(ok).toBeLessThanOrEqual(BUDGET);
    expect(ok).toBeGreaterThanOrEqual(BUDGET - 2 * 4); // at most a chunk stranded per replica
    for (const r of answers.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(429);
      expect(r.headers.get("x-scopegate-reason")).toBe("budget_exhausted");
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    // More, on both replicas: never past the budget upstream.
    await burst("acme", 2 * BUDGET);
    expect(upstreamFor(ACME.clientId) - before).toBeLessThanOrEqual(BUDGET);
  });

  it("Redis killed: both replicas keep answering, each within its fallback share; no 5xx", async () => {
    if (secondsLeft() < 60) await sleep(secondsLeft() * 1000 + 200);
    await redis.kill();
    const before = upstreamFor(GLOBEX.clientId);
    const answers = await burst("globex", 2 * BUDGET);
    expect(answers.filter((r) => r.status >= 500)).toEqual([]);
    expect(answers.filter((r) => r.status === 200)).toHaveLength(BUDGET); // BUDGET / 2 on each replica
    expect(upstreamFor(GLOBEX.clientId) - before).toBe(BUDGET);
    expect(stack.app.budget?.mode).toBe("fallback");
    expect(second.budget?.mode).toBe("fallback");
  });
});
