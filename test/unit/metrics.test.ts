import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/observability/metrics.js";

const outcome = (tenant: string, tenantKnown: boolean) => ({ bytes: Buffer.alloc(0), decision: "deny" as const, reason: "tenant_unknown" as const, tenant, tenantKnown, requestId: "" });

describe("metrics", () => {
  it("per-tenant labels are capped and never spent on unresolved ids", async () => {
    const m = createMetrics({ perTenantLabels: true, maxTenantLabels: 2, defaultMetrics: false });
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
    const m = createMetrics({ perTenantLabels: false, maxTenantLabels: 2, defaultMetrics: false });
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

  it("registers nothing globally: two instances coexist", () => {
    createMetrics({ perTenantLabels: false, maxTenantLabels: 1, defaultMetrics: false });
    expect(() => createMetrics({ perTenantLabels: false, maxTenantLabels: 1, defaultMetrics: false })).not.toThrow();
  });
});
