import { describe, expect, it } from "vitest";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { CounterTally } from "../../src/observability/bound-series.js";
import { budgetObserver, createMetrics } from "../../src/observability/metrics.js";

const outcome = (tenant: string, tenantKnown: boolean) => ({ bytes: Buffer.alloc(0), decision: "deny" as const, reason: "tenant_unknown" as const, tenant, tenantKnown, requestId: "" });

describe("metrics", () => {
  it("per-tenant labels are capped and never spent on unresolved ids", async () => {
    const m = createMetrics({ perTenantLabels: true, maxTenantLabels: 2, eventLoopResolutionMs: 100, defaultMetrics: false });
    for (let i = 0; i < 50; i++) m.observeCheck(outcome(`junk-${i}`, false), 1);
    m.observeCheck(outcome("acme", true), 1);
    m.observeCheck(outcome("globex", true), 1);
    m.observeCheck(outcome("initech", true), 1);
    const text = await m.registry.metrics();
    expect(text).toMatch(/tenant="acme"/);
    expect(text).toMatch(/tenant="globex"/);
    expect(text).toMatch(/tenant="_other"/);
    expect(text).not.toMatch(/junk-/);
  });

  it("budget metrics: per tenant (capped like the check labels), per lease outcome, and the fallback state", async () => {
    const m = createMetrics({ perTenantLabels: false, maxTenantLabels: 2, eventLoopResolutionMs: 100, defaultMetrics: false });
    for (let i = 0; i < 3; i++) m.budget.spent("acme", "granted");
    m.budget.spent("acme", "budget_exhausted");
    m.budget.spent("globex", "caller_share_exhausted");
    m.budget.spent("initech", "granted");
    m.budget.lease("granted", 2);
    m.budget.lease("unavailable", 100);
    m.budget.fallback(true);
    const text = await m.registry.metrics();
    expect(text).toMatch(/scopegate_budget_requests_total\{tenant="acme",result="granted"\} 3/);
    expect(text).toMatch(/scopegate_budget_requests_total\{tenant="acme",result="budget_exhausted"\} 1/);
    expect(text).toMatch(/scopegate_budget_requests_total\{tenant="globex",result="caller_share_exhausted"\} 1/);
    expect(text).toMatch(/scopegate_budget_requests_total\{tenant="_other",result="granted"\} 1/);
    expect(text).toMatch(/scopegate_budget_leases_total\{outcome="unavailable"\} 1/);
    expect(text).toMatch(/scopegate_budget_fallback 1/);
  });

  it("counts every check by decision and reason, its duration by decision and its token-cache result, read or not", async () => {
    const m = createMetrics({ perTenantLabels: false, maxTenantLabels: 2, eventLoopResolutionMs: 100, defaultMetrics: false });
    const allow = { bytes: Buffer.alloc(0), decision: "allow" as const, tenant: "acme", tenantKnown: true, tokenCache: "hit" as const, requestId: "" };
    m.observeCheck(allow, 0.3);
    m.observeCheck({ ...allow, tokenCache: "miss" }, 40);
    expect(await m.registry.metrics()).toMatch(/scopegate_checks_total\{decision="allow",reason=""\} 2\n/);
    m.observeCheck(outcome("acme", true), 2);
    m.observeCheck(allow, 0.2);
    const text = await m.registry.metrics();
    expect(text).toMatch(/scopegate_checks_total\{decision="allow",reason=""\} 3\n/);
    expect(text).toMatch(/scopegate_checks_total\{decision="deny",reason="tenant_unknown"\} 1\n/);
    expect(text).toMatch(/scopegate_check_duration_seconds_bucket\{le="0.0005",decision="allow"\} 2\n/);
    expect(text).toMatch(/scopegate_check_duration_seconds_bucket\{le="0.05",decision="allow"\} 3\n/);
    expect(text).toMatch(/scopegate_check_duration_seconds_count\{decision="deny"\} 1\n/);
    expect(text).toMatch(/scopegate_check_duration_seconds_sum\{decision="deny"\} 0.002\n/);
    expect(text).toMatch(/scopegate_token_cache_total\{result="hit"\} 2\n/);
    expect(text).toMatch(/scopegate_token_cache_total\{result="miss"\} 1\n/);
    expect(text).not.toMatch(/decision="login"/);
  });

  it("budget series of tenants past the label cap are shared, however many tenants there are", async () => {
    const m = createMetrics({ perTenantLabels: false, maxTenantLabels: 1, eventLoopResolutionMs: 100, defaultMetrics: false });
    for (let i = 0; i < 20_000; i++) m.budget.spent(`t${i}`, "granted");
    const text = await m.registry.metrics();
    expect(text).toMatch(/scopegate_budget_requests_total\{tenant="t0",result="granted"\} 1\n/);
    expect(text).toMatch(/scopegate_budget_requests_total\{tenant="_other",result="granted"\} 19999\n/);
    expect(text.match(/scopegate_budget_requests_total\{/g)).toHaveLength(2);
    // The exposition would look the same with a series bound per call (prom-client merges equal labels): count them.
    const tally = new CounterTally<"tenant" | "result">();
    const registers: Registry[] = [];
    const observer = budgetObserver(
      tally,
      new Counter({ name: "l", help: "l", labelNames: ["outcome"], registers }),
      new Histogram({ name: "d", help: "d", registers }),
      new Gauge({ name: "f", help: "f", registers }),
      (t) => (t === "t0" ? t : "_other"),
    );
    for (let i = 0; i < 20_000; i++) observer.spent(`t${i}`, i % 2 === 0 ? "granted" : "budget_exhausted");
    expect(tally.size).toBe(3); // t0/granted, _other/budget_exhausted, _other/granted
  });

  it("registers nothing globally: two instances coexist", () => {
    createMetrics({ perTenantLabels: false, maxTenantLabels: 1, eventLoopResolutionMs: 100, defaultMetrics: false });
    expect(() => createMetrics({ perTenantLabels: false, maxTenantLabels: 1, eventLoopResolutionMs: 100, defaultMetrics: false })).not.toThrow();
  });
});
