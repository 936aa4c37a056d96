import { describe, expect, it } from "vitest";
import { principalMatches, spiffeNamespace } from "../../src/tenants/caller-binding.js";
import { harness } from "./authorizer-harness.js";
import { checkRequest } from "./fixtures.js";

const GLOBEX_ETL = "spiffe://cluster.local/ns/globex/sa/etl";
const ACME_ETL = "spiffe://cluster.local/ns/acme/sa/etl";
const INITECH_ANY = "spiffe://cluster.local/ns/initech/sa/whatever";

describe("principal patterns", () => {
  it.each([
    ["spiffe://td/ns/a/sa/x", "spiffe://td/ns/a/sa/x", true],
    ["spiffe://td/ns/a/sa/*", "spiffe://td/ns/a/sa/x", true],
    ["spiffe://td/ns/a/sa/*", "spiffe://td/ns/a/sa/", false],
    ["spiffe://td/ns/a/sa/*", "spiffe://td/ns/a/sa/x/y", false],
    ["spiffe://td/ns/a/sa/*", "spiffe://td/ns/ab/sa/x", false],
    ["spiffe://td/ns/a/sa/x", "spiffe://td/ns/a/sa/xy", false],
  ])("%s vs %s -> %s", (pattern, principal, ok) => expect(principalMatches(pattern, principal)).toBe(ok));

  it("reads the namespace only from a well-formed Kubernetes SPIFFE id", () => {
    expect(spiffeNamespace("spiffe://cluster.local/ns/acme/sa/etl")).toBe("acme");
    expect(spiffeNamespace("spiffe://cluster.local/ns/acme/sa/etl/extra")).toBeUndefined();
    expect(spiffeNamespace("acme")).toBeUndefined();
  });
});

describe("caller binding through the authorizer", () => {
  const cases: [string, { mode?: "mesh" | "local"; principalTenants?: Record<string, string> }, string | undefined, string, string][] = [
    // [what, options, tenant header, principal, expected decision or reason]
    ["local mode, no principal, open tenant", {}, "acme", "", "allow"],
    ["mesh mode, no principal", { mode: "mesh" }, "acme", "", "caller_not_allowed"],
    ["mesh mode, any principal, open tenant", { mode: "mesh" }, "acme", ACME_ETL, "allow"],
    ["bound tenant, matching pattern", {}, "globex", GLOBEX_ETL, "allow"],
    ["bound tenant, other namespace", {}, "globex", ACME_ETL, "caller_not_allowed"],
    ["bound tenant, no principal even in local mode", {}, "globex", "", "caller_not_allowed"],
    ["namespace-bound tenant, same namespace", {}, "initech", INITECH_ANY, "allow"],
    ["namespace-bound tenant, other namespace", {}, "initech", GLOBEX_ETL, "caller_not_allowed"],
    ["principal mapped to a tenant, no header", { principalTenants: { [ACME_ETL]: "acme" } }, undefined, ACME_ETL, "allow"],
    ["principal mapped, header agrees", { principalTenants: { [ACME_ETL]: "acme" } }, "acme", ACME_ETL, "allow"],
    ["principal mapped, header names another tenant", { principalTenants: { [ACME_ETL]: "acme" } }, "globex", ACME_ETL, "caller_not_allowed"],
    ["unmapped principal, no header", { principalTenants: { [ACME_ETL]: "acme" } }, undefined, GLOBEX_ETL, "tenant_missing"],
    ["mapped principal, malformed header", { principalTenants: { [ACME_ETL]: "acme" } }, "BAD!", ACME_ETL, "tenant_invalid"],
  ];
  it.each(cases)("%s", async (_what, opts, header, principal, expected) => {
    const { check } = harness(opts);
    const o = await check(checkRequest({ headers: header === undefined ? {} : { "x-tenant-id": header }, principal, path: "/api/v2/flows" }));
    expect(o.decision === "allow" ? "allow" : o.reason).toBe(expected);
    if (o.decision === "allow" && header === undefined) expect(o.tenant).toBe("acme");
    expect(o.mtls).toBe(principal !== "");
  });
});

describe("routes: allow-list mode", () => {
  it("denies uncatalogued routes and still serves catalogued ones", async () => {
    const { check } = harness({ allowList: true });
    expect((await check(checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/users" }))).reason).toBe("route_forbidden");
    expect((await check(checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/routing/queues" }))).decision).toBe("allow");
  });

  it("catalog mode (default) passes uncatalogued routes without a division parameter", async () => {
    const { check } = harness();
    const o = await check(checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/users" }));
    expect(o.decision).toBe("allow");
    if (o.response.httpResponse?.$case !== "okResponse") throw new Error("not ok");
    expect(o.response.httpResponse.value.queryParametersToSet).toEqual([]);
  });
});
