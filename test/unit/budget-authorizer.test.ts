// The request budget as a step of the decision path (src/authz/authorizer.ts): an API call that would be allowed
// spends one request; past the budget it is denied 429 with Retry-After and x-scopegate-reason, the body carrying
// no token; denials and gateway logins spend nothing; caller shares keep one noisy workload from starving others.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { LocalBudgetStore } from "../../src/budget/local-budget-store.js";
import { RequestBudget, type BudgetSettings } from "../../src/budget/request-budget.js";
import { GatewayTokens } from "../../src/gateway/gateway-tokens.js";
import type { CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { harness } from "../support/authorizer-harness.js";
import { checkRequest } from "../support/check-requests.js";
import { CheckRequest } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { Deadline } from "../../src/util/deadline.js";
import { ConfigError, parseConfigText } from "../../src/config/index.js";

const T0 = Date.UTC(2026, 11, 2, 16, 30, 15);
const SETTINGS: BudgetSettings = {
  requestsPerWindow: 5,
  callerShare: 1,
  windowMs: 60_000,
  maxChunk: 20,
  divisor: 8,
  fallbackReplicas: 1,
  storeTimeoutMs: 100,
  retryStoreAfterMs: 1000,
  localShares: 1,
};

function budget(settings: Partial<BudgetSettings> = {}, now = () => T0): RequestBudget {
  return new RequestBudget({ store: new LocalBudgetStore(now), settings: { ...SETTINGS, ...settings }, now });
}

const api = (tenant: string, principal?: string, path = "/api/v2/users") =>
  checkRequest({ path, headers: { "x-tenant-id": tenant }, ...(principal ? { principal } : {}) });

function denied(r: CheckResponse): { status: number; headers: Record<string, string>; body: string } {
  const d = r.httpResponse?.$case === "deniedResponse" ? r.httpResponse.value : undefined;
  if (!d) throw new Error("not a denial");
  return { status: d.status!.code, headers: Object.fromEntries(d.headers.map((h) => [h.header!.key, h.header!.value])), body: d.body };
}

describe("the request budget in the decision path", () => {
  it("a tenant's calls past its budget are denied 429 with the seconds left in the window; its neighbour is unaffected", async () => {
    const h = harness({ budget: budget() });
    for (let i = 0; i < 5; i++) expect((await h.check(api("acme"))).decision).toBe("allow");
    const o = await h.check(api("acme"));
    expect(o).toMatchObject({ decision: "deny", reason: "budget_exhausted", tenant: "acme", tenantKnown: true });
    expect(o.response.status?.code).toBe(8); // google.rpc.Code RESOURCE_EXHAUSTED
    const d = denied(o.response);
    expect(d.status).toBe(429);
    expect(d.headers["retry-after"]).toBe("45");
    expect(d.headers["x-scopegate-reason"]).toBe("budget_exhausted");
    expect(JSON.parse(d.body)).toEqual({ error: "budget_exhausted", message: expect.any(String) });
    expect(d.body).not.toContain("tok-acme");
    expect((await h.check(api("initech", "spiffe://cluster.local/ns/initech/sa/app"))).decision).toBe("allow");
  });

  it("requests denied for another reason spend nothing", async () => {
    const h = harness({ budget: budget() });
    for (let i = 0; i < 20; i++) expect((await h.check(api("acme", undefined, "/api/v2/routing/queues/divisionviews/all"))).reason).toBe("route_forbidden");
    for (let i = 0; i < 20; i++) expect((await h.check(api("globex"))).reason).toBe("caller_not_allowed");
    for (let i = 0; i < 5; i++) expect((await h.check(api("acme"))).decision).toBe("allow");
  });

  it("gateway logins spend nothing", async () => {
    const keys = { current: "k1", keys: new Map([["k1", randomBytes(32)]]) };
    const h = harness({ budget: budget(), gateway: new GatewayTokens(keys, 3600) });
    const login = checkRequest({
      method: "POST",
      path: "/oauth/token",
      headers: { authorization: `Basic ${Buffer.from("acme:x").toString("base64")}` },
      body: "grant_type=client_credentials",
    });
    for (let i = 0; i < 10; i++) expect((await h.check(login)).decision).toBe("login");
    for (let i = 0; i < 5; i++) expect((await h.check(api("acme"))).decision).toBe("allow");
    expect((await h.check(api("acme"))).reason).toBe("budget_exhausted");
  });

  it("caller shares: a noisy workload is denied caller_share_exhausted while the tenant's other workload still gets its share", async () => {
    const h = harness({ budget: budget({ requestsPerWindow: 10, callerShare: 0.5 }) });
    const noisy = "spiffe://cluster.local/ns/globex/sa/noisy";
    const quiet = "spiffe://cluster.local/ns/globex/sa/quiet";
    for (let i = 0; i < 5; i++) expect((await h.check(api("globex", noisy))).decision).toBe("allow");
    const o = await h.check(api("globex", noisy));
    expect(o.reason).toBe("caller_share_exhausted");
    expect(denied(o.response)).toMatchObject({ status: 429, headers: { "retry-after": "45", "x-scopegate-reason": "caller_share_exhausted" } });
    for (let i = 0; i < 5; i++) expect((await h.check(api("globex", quiet))).decision).toBe("allow");
  });

  it("a check answered from caches stays synchronous while the lease lasts", async () => {
    const h = harness({ budget: budget() });
    await h.check(api("acme")); // the token is now cached (FakeTokens); the local store answers synchronously
    const o = h.authorizer.check(CheckRequest.encode(api("acme")).finish(), new Deadline(5000));
    expect(o).not.toBeInstanceOf(Promise);
    expect((o as { decision: string }).decision).toBe("allow");
  });
});

describe("budget configuration", () => {
  const base = `
secrets: { backend: file, file: { directory: /x } }
tenants: [{ id: acme, divisions: [d], environment: mypurecloud.de }]
`;
  it("defaults match Genesys Cloud's default token limit: 300 requests per minute; no block, no budget", () => {
    expect(parseConfigText(`${base}budgets: {}\n`).budgets).toMatchObject({ requestsPerWindow: 300, windowSeconds: 60, callerShare: 1, store: "local" });
    expect(parseConfigText(base).budgets).toBeUndefined();
  });

  it("lists every problem of the block and of a tenant's own budget", () => {
    let problems: readonly string[] = [];
    try {
      parseConfigText(`
secrets: { backend: file, file: { directory: /x } }
tenants: [{ id: acme, divisions: [d], environment: mypurecloud.de, budget: { requestsPerWindow: 0, callerShare: 2 } }]
budgets: { requestsPerWindow: -1, windowSeconds: 0, callerShare: 0, store: memcached, lease: { maxChunk: 0 }, surprise: 1 }
`);
    } catch (err) {
      if (err instanceof ConfigError) problems = err.problems;
    }
    const text = problems.join("\n");
    for (const key of ["tenants.0.budget.requestsPerWindow", "tenants.0.budget.callerShare", "budgets.requestsPerWindow", "budgets.windowSeconds", "budgets.callerShare", "budgets.store", "budgets.lease.maxChunk", "budgets"]) {
      expect(text).toContain(`${key}:`);
    }
    expect(text).toMatch(/surprise/);
  });

  it("store redis needs the fleet's Redis connection (fleet.redis)", () => {
    expect(() => parseConfigText(`${base}budgets: { store: redis }\n`)).toThrow(/budgets\.store: redis needs fleet\.redis/);
    expect(parseConfigText(`${base}budgets: { store: redis }\nfleet: { redis: { url: "redis://127.0.0.1:6379" } }\n`).budgets?.store).toBe("redis");
  });

  it("a discovered tenant's record may carry its own budget; a malformed one defines no tenant", async () => {
    const records = {
      small: { client_id: "c", client_secret: "s", divisions: "d", environment: "mypurecloud.de", budget_requests_per_window: "3" },
      shared: { client_id: "c", client_secret: "s", divisions: "d", environment: "mypurecloud.de", budget_requests_per_window: 4, budget_caller_share: "0.5" },
      broken: { client_id: "c", client_secret: "s", divisions: "d", environment: "mypurecloud.de", budget_requests_per_window: "lots" },
      zero: { client_id: "c", client_secret: "s", divisions: "d", environment: "mypurecloud.de", budget_caller_share: "0" },
    };
    const h = harness({ budget: budget(), records, defaultBinding: { allowedPrincipals: [], allowedNamespaces: ["app"] } });
    const who = "spiffe://cluster.local/ns/app/sa/a";
    for (let i = 0; i < 3; i++) expect((await h.check(api("small", who))).decision).toBe("allow");
    expect((await h.check(api("small", who))).reason).toBe("budget_exhausted");
    for (let i = 0; i < 2; i++) expect((await h.check(api("shared", who))).decision).toBe("allow");
    expect((await h.check(api("shared", who))).reason).toBe("caller_share_exhausted");
    expect((await h.check(api("broken", who))).reason).toBe("tenant_unknown");
    expect((await h.check(api("zero", who))).reason).toBe("tenant_unknown");
  });
});
