import { describe, expect, it } from "vitest";
import { principalMatches, spiffeNamespace } from "../../src/tenants/caller-binding.js";
import { harness, type HarnessOptions } from "../support/authorizer-harness.js";
import { checkRequest } from "../support/check-requests.js";

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

  it("reads the namespace only from a well-formed Kubernetes SPIFFE id of the trust domain", () => {
    expect(spiffeNamespace("spiffe://cluster.local/ns/acme/sa/etl", "cluster.local")).toBe("acme");
    expect(spiffeNamespace("spiffe://cluster.local/ns/acme/sa/etl/extra", "cluster.local")).toBeUndefined();
    expect(spiffeNamespace("acme", "cluster.local")).toBeUndefined();
    expect(spiffeNamespace("spiffe://evil.example/ns/acme/sa/etl", "cluster.local")).toBeUndefined();
    expect(spiffeNamespace("spiffe://cluster.local.evil/ns/acme/sa/etl", "cluster.local")).toBeUndefined();
    expect(spiffeNamespace("spiffe://prod.example/ns/acme/sa/etl", "prod.example")).toBe("acme");
  });
});

describe("caller binding through the authorizer", () => {
  const cases: [string, HarnessOptions, string | undefined, string, string][] = [
    // [what, options, tenant header, principal, expected decision or reason]
    ["local mode, no principal, open tenant", {}, "acme", "", "allow"],
    ["mesh mode, no principal", { mode: "mesh" }, "acme", "", "caller_not_allowed"],
    ["mesh mode, a principal, unbound configured tenant", { mode: "mesh" }, "acme", ACME_ETL, "caller_not_allowed"],
    ["mesh mode, bound tenant, matching principal", { mode: "mesh" }, "globex", GLOBEX_ETL, "allow"],
    ["mesh mode, principal mapped to an unbound tenant", { mode: "mesh", principalTenants: { [ACME_ETL]: "acme" } }, "acme", ACME_ETL, "allow"],
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
    // Trust domain (issue 11, finding 7): allowedNamespaces match only spiffe://<trustDomain>/ns/<ns>/sa/<sa>.
    ["namespace-bound tenant, same namespace in a foreign trust domain", {}, "initech", "spiffe://evil.example/ns/initech/sa/x", "caller_not_allowed"],
    ["namespace-bound tenant, configured trust domain", { trustDomain: "prod.example" }, "initech", "spiffe://prod.example/ns/initech/sa/x", "allow"],
    ["namespace-bound tenant, cluster.local when the trust domain is another", { trustDomain: "prod.example" }, "initech", INITECH_ANY, "caller_not_allowed"],
    // The sidecar's local identity (callers.localIdentity, mode local).
    ["local identity matches a bound tenant's pattern", { localIdentity: GLOBEX_ETL }, "globex", "", "allow"],
    ["local identity in a bound tenant's namespace", { localIdentity: INITECH_ANY }, "initech", "", "allow"],
    ["local identity of another namespace", { localIdentity: ACME_ETL }, "globex", "", "caller_not_allowed"],
    ["local identity mapped to a tenant, no header", { localIdentity: ACME_ETL, principalTenants: { [ACME_ETL]: "acme" } }, undefined, "", "allow"],
    ["a real principal wins over the local identity", { localIdentity: GLOBEX_ETL }, "globex", ACME_ETL, "caller_not_allowed"],
    ["local identity means nothing in mesh mode", { mode: "mesh", localIdentity: GLOBEX_ETL }, "globex", "", "caller_not_allowed"],
  ];
  it.each(cases)("%s", async (_what, opts, header, principal, expected) => {
    const { check } = harness(opts);
    const o = await check(checkRequest({ headers: header === undefined ? {} : { "x-tenant-id": header }, principal, path: "/api/v2/flows" }));
    expect(o.decision === "allow" ? "allow" : o.reason).toBe(expected);
    if (o.decision === "allow" && header === undefined) expect(o.tenant).toBe("acme");
    expect(o.mtls).toBe(principal !== "");
  });
});

const CREDS = { client_id: "c", client_secret: "s", divisions: ["div-d"], environment: "mypurecloud.de" };
const DISC_ETL = "spiffe://cluster.local/ns/disc/sa/etl";

describe("discovered tenants take their binding from the record or a default (issue 11, finding 2)", () => {
  const cases: [string, HarnessOptions, string, string][] = [
    // [what, options, principal, expected]
    ["no binding anywhere, local mode, no principal", { records: { disc: CREDS } }, "", "caller_not_allowed"],
    ["no binding anywhere, local mode, any principal", { records: { disc: CREDS } }, DISC_ETL, "caller_not_allowed"],
    ["no binding anywhere, mesh mode", { mode: "mesh", records: { disc: CREDS } }, DISC_ETL, "caller_not_allowed"],
    ["record names the namespace (comma list)", { records: { disc: { ...CREDS, allowed_namespaces: "other, disc" } } }, DISC_ETL, "allow"],
    ["record names the namespace, mesh mode", { mode: "mesh", records: { disc: { ...CREDS, allowed_namespaces: ["disc"] } } }, DISC_ETL, "allow"],
    ["record names another namespace", { records: { disc: { ...CREDS, allowed_namespaces: ["other"] } } }, DISC_ETL, "caller_not_allowed"],
    ["record names the principal (JSON array in a string)", { records: { disc: { ...CREDS, allowed_principals: `["${DISC_ETL}"]` } } }, DISC_ETL, "allow"],
    ["record names another principal", { records: { disc: { ...CREDS, allowed_principals: [ACME_ETL] } } }, DISC_ETL, "caller_not_allowed"],
    ["record binding with a malformed namespace defines no tenant", { records: { disc: { ...CREDS, allowed_namespaces: ["Disc!"] } } }, DISC_ETL, "tenant_unknown"],
    ["default binding applies to a record without one", { records: { disc: CREDS }, defaultBinding: { allowedPrincipals: [], allowedNamespaces: ["disc"] } }, DISC_ETL, "allow"],
    ["the record's binding replaces the default", { records: { disc: { ...CREDS, allowed_principals: [ACME_ETL] } }, defaultBinding: { allowedPrincipals: [], allowedNamespaces: ["disc"] } }, DISC_ETL, "caller_not_allowed"],
    ["local identity bound by the record", { localIdentity: DISC_ETL, records: { disc: { ...CREDS, allowed_namespaces: ["disc"] } } }, "", "allow"],
  ];
  it.each(cases)("%s", async (_what, opts, principal, expected) => {
    const o = await harness(opts).check(checkRequest({ headers: { "x-tenant-id": "disc" }, principal, path: "/api/v2/flows" }));
    expect(o.decision === "allow" ? "allow" : o.reason).toBe(expected);
  });

  it("a credentials key a configured tenant uses can never be claimed as a tenant id of its own", async () => {
    const tenants = [{ id: "acme", divisions: ["div-acme"], environment: "mypurecloud.de", credentialsKey: "acme-creds", allowedNamespaces: ["acme"] }];
    // The key's record also describes a tenant and even binds the caller: it is still not a tenant.
    const records = { "acme-creds": { ...CREDS, allowed_namespaces: ["disc"] }, disc: { ...CREDS, allowed_namespaces: ["disc"] } };
    const { check } = harness({ tenants, records });
    const claim = (id: string, principal: string) => check(checkRequest({ headers: { "x-tenant-id": id }, principal, path: "/api/v2/flows" }));
    expect((await claim("acme-creds", DISC_ETL)).reason).toBe("tenant_unknown");
    expect((await claim("acme", ACME_ETL)).decision).toBe("allow");
    expect((await claim("disc", DISC_ETL)).decision).toBe("allow");
  });
});

describe("tenant ids are not enumerable in mesh mode (issue 11, finding 8)", () => {
  const records = { disc: { ...CREDS, allowed_namespaces: ["disc"] } };
  const ask = (mode: "mesh" | "local", tenant: string) =>
    harness({ mode, records }).check(checkRequest({ headers: { "x-tenant-id": tenant }, principal: ACME_ETL, path: "/api/v2/flows" }));

  it("answers an unknown tenant exactly like a tenant the caller may not act for; the outcome keeps the real reason", async () => {
    for (const [unknown, bound] of [["nobody", "globex"], ["nobody", "disc"], ["ghost", "initech"]] as const) {
      const u = await ask("mesh", unknown);
      const b = await ask("mesh", bound);
      expect(u.reason).toBe("tenant_unknown");
      expect(b.reason).toBe("caller_not_allowed");
      expect(Buffer.compare(u.bytes, b.bytes)).toBe(0); // same status, headers (x-scopegate-reason), body
    }
  });

  it("local mode keeps the precise answer", async () => {
    const u = await ask("local", "nobody");
    if (u.response.httpResponse?.$case !== "deniedResponse") throw new Error("not denied");
    expect(u.response.httpResponse.value.body).toContain("tenant_unknown");
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
