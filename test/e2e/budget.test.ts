/**
 * The per-tenant request budget through a real Envoy running the shipped sidecar config: a tenant sending twice
 * its budget gets 429 + Retry-After (x-scopegate-reason budget_exhausted) for the excess, its neighbour tenant is
 * unaffected, and the Genesys stand-in never receives more than the budget with that tenant's token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { send, startStack, type Stack } from "../support/stack.js";

const BUDGET = 20;
const WINDOW_S = 60;
const ACME = { id: "acme", divisions: ["div-acme"], clientId: "acme-client", clientSecret: "acme-SECRET-1", via: "config" } as const;
const GLOBEX = { id: "globex", divisions: ["div-globex"], clientId: "globex-client", clientSecret: "globex-SECRET-2", via: "vault" } as const;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    tenants: [{ ...ACME, divisions: [...ACME.divisions] }, { ...GLOBEX, divisions: [...GLOBEX.divisions] }],
    config: { budgets: { requestsPerWindow: BUDGET, windowSeconds: WINDOW_S } },
  });
});
afterAll(async () => {
  await stack?.stop();
});

/** Seconds left in the current budget window (windows are aligned to the epoch). */
const secondsLeft = (): number => WINDOW_S - ((Date.now() / 1000) % WINDOW_S);

describe("request budget through Envoy", () => {
  it("a tenant sending 2x its budget gets 429 with Retry-After for the excess; its neighbour is unaffected; upstream sees at most the budget", async () => {
    // The whole burst must fall in one window: start after the boundary when it is close.
    if (secondsLeft() < 15) await sleep(secondsLeft() * 1000 + 200);
    const acmeBefore = stack.standin.received.filter((r) => r.tokenClientId === ACME.clientId).length;
    const globexBefore = stack.standin.received.filter((r) => r.tokenClientId === GLOBEX.clientId).length;
    // Concurrent, as a busy workload sends them: 2 × BUDGET for acme, BUDGET for globex, interleaved.
    const acme = Array.from({ length: 2 * BUDGET }, () => send(stack.envoy, "/api/v2/routing/queues", { "x-tenant-id": "acme" }));
    const globex = Array.from({ length: BUDGET }, () => send(stack.envoy, "/api/v2/routing/queues", { "x-tenant-id": "globex" }));
    const [a, g] = await Promise.all([Promise.all(acme), Promise.all(globex)]);
    const left = secondsLeft();

    expect(a.filter((r) => r.status === 200)).toHaveLength(BUDGET);
    const refused = a.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(BUDGET);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.headers.get("x-scopegate-reason")).toBe("budget_exhausted");
      const retryAfter = Number(r.headers.get("retry-after"));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(Math.max(1, Math.floor(left)));
      expect(retryAfter).toBeLessThanOrEqual(Math.ceil(left) + 1);
      expect(JSON.parse(r.body)).toMatchObject({ error: "budget_exhausted" });
    }
    expect(g.map((r) => r.status)).toEqual(Array.from({ length: BUDGET }, () => 200));

    // What upstream received, counted per token: never more than the budget for acme, all of globex's.
    const acmeUpstream = stack.standin.received.filter((r) => r.tokenClientId === ACME.clientId).length - acmeBefore;
    const globexUpstream = stack.standin.received.filter((r) => r.tokenClientId === GLOBEX.clientId).length - globexBefore;
    expect(acmeUpstream).toBe(BUDGET);
    expect(globexUpstream).toBe(BUDGET);

    // More in the same window are refused at once, and still nothing more reaches upstream.
    const again = await send(stack.envoy, "/api/v2/routing/queues", { "x-tenant-id": "acme" });
    expect(again.status).toBe(429);
    expect(stack.standin.received.filter((r) => r.tokenClientId === ACME.clientId).length - acmeBefore).toBe(BUDGET);

    // The metrics say it per tenant, and carry no token.
    const metrics = await stack.app.metrics.registry.metrics();
    expect(metrics).toMatch(/scopegate_budget_requests_total\{tenant="acme",result="granted"\} 20/);
    expect(metrics).toMatch(/scopegate_budget_requests_total\{tenant="acme",result="budget_exhausted"\} 21/);
    expect(metrics).toMatch(/scopegate_budget_requests_total\{tenant="globex",result="granted"\} 20/);
    for (const t of stack.standin.issuedTokens.keys()) expect(metrics).not.toContain(t);
  });
});
