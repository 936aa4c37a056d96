// A Genesys Cloud tenant and a NICE CXone tenant side by side through the whole in-process decision path: each
// gets its own profile's route table and division handling, its own environment and API host.
import { describe, expect, it } from "vitest";
import type { CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { harness, TENANTS, type HarnessOptions } from "../support/authorizer-harness.js";
import { checkRequest } from "../support/check-requests.js";

const CXONE_ENV = "na1.niceincontact.com";
const CXONE_API = "api-na1.niceincontact.com";
const ENVIRONMENTS = {
  "mypurecloud.de": {},
  "mypurecloud.ie": {},
  "mypurecloud.com": {},
  [CXONE_ENV]: { profile: "nice-cxone", apiHost: CXONE_API },
};
const UMBRELLA = { id: "umbrella", divisions: ["bu-1"], environment: CXONE_ENV, profile: "nice-cxone" };

function sideBySide(opts: HarnessOptions = {}) {
  return harness({ environments: ENVIRONMENTS, tenants: [...TENANTS, UMBRELLA], ...opts });
}

function ok(response: CheckResponse) {
  if (response.httpResponse?.$case !== "okResponse") throw new Error(`not ok: ${JSON.stringify(response.status)}`);
  const value = response.httpResponse.value;
  const header = (name: string) => value.headers.find((h) => h.header?.key === name)?.header?.value;
  return { set: value.queryParametersToSet.map((p) => `${p.key}=${p.value}`), remove: value.queryParametersToRemove, header };
}

describe("profiles side by side", () => {
  it("a Genesys tenant gets its division filter; a CXone tenant's query passes unchanged, division-looking keys included", async () => {
    const h = sideBySide();
    const acme = await h.check(checkRequest({ path: "/api/v2/routing/queues?divisionId=x&pageSize=5", headers: { "x-tenant-id": "acme" } }));
    expect(acme.reason).toBe("division_forbidden");
    const acmeOk = ok((await h.check(checkRequest({ path: "/api/v2/routing/queues?pageSize=5", headers: { "x-tenant-id": "acme" } }))).response);
    expect(acmeOk.set).toEqual(["divisionId=div-acme"]);
    expect(acmeOk.header("authorization")).toBe("Bearer tok-acme");
    expect(acmeOk.header("x-scopegate-upstream")).toBe("mypurecloud.de");

    // CXone has no division query parameter: nothing is set, nothing removed, nothing denied for it.
    for (const path of ["/api/v2/routing/queues?divisionId=x", "/incontactapi/services/v31.0/agents?divisionIds=a,b&top=10", "/incontactapi/services/v31.0/skills"]) {
      const o = await h.check(checkRequest({ path, headers: { "x-tenant-id": "umbrella" } }));
      expect(o.decision, path).toBe("allow");
      const u = ok(o.response);
      expect(u.set).toEqual([]);
      expect(u.remove).toEqual([]);
      expect(u.header("authorization")).toBe("Bearer tok-umbrella");
      expect(u.header("x-scopegate-upstream")).toBe(CXONE_ENV);
    }
  });

  it("each profile has its own route table: Genesys's denied routes do not apply to CXone, and allow-list mode is Genesys's", async () => {
    const h = sideBySide({ allowList: true });
    expect((await h.check(checkRequest({ method: "DELETE", path: "/api/v2/tokens/me", headers: { "x-tenant-id": "acme" } }))).reason).toBe("route_forbidden");
    expect((await h.check(checkRequest({ path: "/api/v2/users", headers: { "x-tenant-id": "acme" } }))).reason).toBe("route_forbidden");
    expect((await h.check(checkRequest({ path: "/incontactapi/services/v31.0/agents", headers: { "x-tenant-id": "umbrella" } }))).decision).toBe("allow");
    // A path scopegate refuses to interpret is refused whatever the profile.
    expect((await h.check(checkRequest({ path: "/incontactapi/../api/v2/tokens/me", headers: { "x-tenant-id": "umbrella" } }))).reason).toBe("path_malformed");
  });

  it("verifyHost compares against each tenant's own API host", async () => {
    const h = sideBySide({ verifyHost: true });
    const at = (tenant: string, host: string) => h.check(checkRequest({ path: "/x", host, headers: { "x-tenant-id": tenant } }));
    expect((await at("umbrella", CXONE_API)).decision).toBe("allow");
    expect((await at("umbrella", `api.${CXONE_ENV}`)).reason).toBe("upstream_mismatch");
    expect((await at("acme", "api.mypurecloud.de")).decision).toBe("allow");
    expect((await at("acme", CXONE_API)).reason).toBe("upstream_mismatch");
  });

  it("a discovered tenant's record must name its environment's profile", async () => {
    const cxone = { client_id: "c", client_secret: "s", access_key_id: "k", access_key_secret: "ks", divisions: "bu-1", environment: CXONE_ENV };
    const h = sideBySide({
      records: {
        "wayne": { ...cxone, profile: "nice-cxone" },
        // No profile (so genesys-cloud) in a CXone environment, and a CXone profile in a Genesys environment.
        "stark": cxone,
        "oscorp": { ...cxone, environment: "mypurecloud.de", profile: "nice-cxone" },
        "lexcorp": { ...cxone, profile: "okta" },
      },
      defaultBinding: { allowedPrincipals: [], allowedNamespaces: [] },
      mode: "local",
    });
    const wayne = await h.check(checkRequest({ path: "/incontactapi/services/v31.0/agents?divisionId=x", headers: { "x-tenant-id": "wayne" } }));
    expect(wayne.reason).toBe("caller_not_allowed"); // resolved (a CXone tenant), then refused: bound to no one
    for (const id of ["stark", "oscorp", "lexcorp"]) {
      expect((await h.check(checkRequest({ path: "/x", headers: { "x-tenant-id": id } }))).reason, id).toBe("tenant_unknown");
    }
  });
});
