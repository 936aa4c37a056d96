/**
 * The division-plan memo (plan-memo.ts): an Authorizer that has seen requests answers each one exactly as a
 * fresh Authorizer that never saw any, and the memo stays bounded.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PlanMemo } from "../../src/authz/plan-memo.js";
import { harness } from "../support/authorizer-harness.js";
import { checkRequest } from "../support/check-requests.js";

const divisionValue = fc.constantFrom("div-acme", "div-g1", "div-g2", "div-i", "div-g1,div-g2", "", "%zz", "div-acme%2Cdiv-g1");
const queryKey = fc.constantFrom("divisionId", "divisionIds", "DivisionID", "%64ivisionId", "pageSize", "division");
const query = fc.array(fc.tuple(queryKey, divisionValue), { minLength: 1, maxLength: 3 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join("&"));
/** Principals the harness's tenants accept (their allowedPrincipals / allowedNamespaces). */
const PRINCIPALS: Record<string, string> = { acme: "", globex: "spiffe://cluster.local/ns/globex/sa/etl", initech: "spiffe://cluster.local/ns/initech/sa/app" };
const ROUTES = ["/api/v2/routing/queues", "/api/v2/flows", "/api/v2/users", "/api/v2/routing/queues/divisionviews/all"];
/** Requests drawn from a few queries, so the same query meets other tenants and other routes. */
const requests = fc.uniqueArray(query, { minLength: 1, maxLength: 3 }).chain((queries) =>
  fc.array(
    fc.record({ tenant: fc.constantFrom("acme", "globex", "initech"), route: fc.constantFrom(...ROUTES), query: fc.constantFrom(...queries) }).map((r) => ({ tenant: r.tenant, path: `${r.route}?${r.query}` })),
    { minLength: 1, maxLength: 12 },
  ),
);

describe("division plan memo", () => {
  it("answers repeated requests exactly as an Authorizer that never saw them (300 runs)", async () => {
    await fc.assert(
      fc.asyncProperty(requests, async (rs) => {
        const warm = harness();
        for (const r of [...rs, ...rs]) {
          const req = checkRequest({ path: r.path, headers: { "x-tenant-id": r.tenant }, principal: PRINCIPALS[r.tenant] });
          const seen = await warm.check(req);
          const fresh = await harness().check(req);
          expect({ decision: seen.decision, reason: seen.reason }).toEqual({ decision: fresh.decision, reason: fresh.reason });
          expect(Buffer.from(seen.bytes).toString("hex")).toBe(Buffer.from(fresh.bytes).toString("hex"));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("keeps answers by every input, at most 4,096, and none for long queries", () => {
    const memo = new PlanMemo<number>();
    const keys = {};
    const route = {};
    const divisions = Object.freeze(["d"]);
    memo.set(keys, route, "q=1", divisions, 1);
    expect(memo.get(keys, route, "q=1", divisions)).toBe(1);
    expect(memo.get(keys, route, "q=1", Object.freeze(["d"]))).toBeUndefined(); // another tenant's array
    expect(memo.get(keys, {}, "q=1", divisions)).toBeUndefined();
    expect(memo.get({}, route, "q=1", divisions)).toBeUndefined();
    expect(memo.get(keys, route, "q=2", divisions)).toBeUndefined();
    for (let i = 0; i < 10_000; i++) memo.set(keys, route, `q=${i}`, divisions, i);
    expect(memo.size).toBeGreaterThan(0);
    expect(memo.size).toBeLessThanOrEqual(4096);
    expect(memo.get(keys, route, "q=9999", divisions)).toBe(9999);
    const long = `q=${"x".repeat(600)}`;
    memo.set(keys, route, long, divisions, -1);
    expect(memo.get(keys, route, long, divisions)).toBeUndefined();
  });
});
