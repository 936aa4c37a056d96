/**
 * Issue 11's decision-core findings through a real Envoy, OpenBao and the Genesys stand-in: what upstream
 * receives (or that nothing reaches it) for `;` paths, look-alike division keys, credential management
 * routes, and Vault records that carry no caller binding or that are a configured tenant's credentials.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kvPut } from "../support/openbao.js";
import { send, STACK_ENV, startStack, type Stack } from "../support/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    tenants: [
      { id: "acme", divisions: ["div-a1", "div-a2"], clientId: "acme-client", clientSecret: "acme-S", via: "config" },
      { id: "globex", divisions: ["div-g"], clientId: "globex-client", clientSecret: "globex-S", via: "vault" },
    ],
  });
});
afterAll(async () => {
  await stack?.stop();
});

/** Sends one request as tenant `tenant`; returns the status, the reason and what upstream received. */
async function through(path: string, tenant: string, method = "GET") {
  const before = stack.standin.received.length;
  const res = await send(stack.envoy, path, { "x-tenant-id": tenant }, method);
  const upstream = stack.standin.received.slice(before);
  return { status: res.status, reason: res.headers.get("x-scopegate-reason"), upstream };
}

describe("paths with ';' parameters are refused before they reach Genesys (finding 5)", () => {
  it.each([
    "/api/v2/routing/queues/divisionviews/all;x=1",
    "/api/v2/routing;a/queues/divisionviews/all",
    "/api/v2/routing/queues;x",
    "/api/v2/routing/queues%3Bx",
    "/api/v2/routing/queues%253Bx",
    "/api/v2/users;jsessionid=1",
  ])("%s", async (path) => {
    const r = await through(path, "acme");
    expect([r.status, r.reason]).toEqual([400, "path_malformed"]);
    expect(r.upstream).toHaveLength(0);
  });
});

describe("look-alike division keys (finding 5)", () => {
  const KEYS = ["divisionId[]", "divisionId%5B%5D", "divisionIds[0]", "division.id", "division_id", "%2564ivisionId", "division+id"];

  it.each(KEYS)("%s naming another tenant's division is denied on a catalogued route", async (key) => {
    const r = await through(`/api/v2/routing/queues?${key}=div-g`, "acme");
    expect([r.status, r.reason]).toEqual([403, "division_forbidden"]);
    expect(r.upstream).toHaveLength(0);
  });

  it.each(KEYS)("%s is removed on an uncatalogued route: upstream sees no division key", async (key) => {
    const r = await through(`/api/v2/users?pageSize=5&${key}=div-g`, "acme");
    expect(r.status).toBe(200);
    expect(r.upstream).toHaveLength(1);
    expect(r.upstream[0]!.query).toBe("pageSize=5");
  });

  it.each(KEYS)("%s naming an own division narrows the filter and is replaced by the route's key", async (key) => {
    const r = await through(`/api/v2/routing/queues?${key}=div-a2`, "acme");
    expect(r.status).toBe(200);
    expect([...new URLSearchParams(r.upstream[0]!.query)]).toEqual([["divisionId", "div-a2"]]);
  });
});

describe("credential management is denied by default (finding 4)", () => {
  it("DELETE /api/v2/tokens/me never reaches Genesys, and the tenant's token keeps working", async () => {
    expect((await through("/api/v2/flows", "acme")).status).toBe(200);
    const r = await through("/api/v2/tokens/me", "acme", "DELETE");
    expect([r.status, r.reason]).toEqual([403, "route_forbidden"]);
    expect(r.upstream).toHaveLength(0);
    const after = await through("/api/v2/flows", "acme");
    expect(after.status).toBe(200);
    expect(after.upstream[0]!.tokenClientId).toBe("acme-client");
  });

  it.each([
    ["POST", "/api/v2/oauth/clients"],
    ["POST", "/api/v2/oauth/clients/c-1/secret"],
    ["GET", "/api/v2/oauth/clients"],
    ["POST", "/api/v2/users/me/password"],
    ["PUT", "/api/v2/integrations/credentials/cr-1"],
    ["POST", "/api/v2/authorization/subjects/u-1/bulkadd"],
  ])("%s %s", async (method, path) => {
    const r = await through(path, "acme", method);
    expect([r.status, r.reason]).toEqual([403, "route_forbidden"]);
    expect(r.upstream).toHaveLength(0);
  });
});

describe("Vault records without a binding, or holding a configured tenant's credentials (finding 2)", () => {
  it("a record without allowed_principals / allowed_namespaces is not served to anyone", async () => {
    stack.standin.addClient({ clientId: "loose-client", clientSecret: "loose-S", divisions: ["div-l"] });
    await kvPut(stack.bao.address, stack.bao.rootToken, "secret", "scopegate/tenants/loose", {
      client_id: "loose-client",
      client_secret: "loose-S",
      divisions: "div-l",
      environment: STACK_ENV,
    });
    const r = await through("/api/v2/flows", "loose");
    expect([r.status, r.reason]).toEqual([403, "caller_not_allowed"]);
    expect(r.upstream).toHaveLength(0);
    expect(stack.standin.tokenRequestsFor("loose-client")).toBe(0);
  });

  it("a record bound to the caller is served (the binding comes from the record)", async () => {
    const r = await through("/api/v2/flows", "globex");
    expect(r.status).toBe(200);
    expect(r.upstream[0]!.tokenClientId).toBe("globex-client");
  });

  it("a configured tenant's credentialsKey cannot be claimed as a tenant id", async () => {
    stack.app.applyConfig({
      ...stack.config,
      tenants: [
        ...stack.config.tenants,
        { id: "initech", divisions: ["div-g"], environment: STACK_ENV, credentialsKey: "globex", allowedPrincipals: ["spiffe://cluster.local/ns/initech/sa/app"], allowedNamespaces: [] },
      ],
    });
    try {
      // The record "globex" also describes a tenant and binds this caller, but it is initech's credentials now.
      const r = await through("/api/v2/flows", "globex");
      expect([r.status, r.reason]).toEqual([403, "tenant_unknown"]);
      expect(r.upstream).toHaveLength(0);
    } finally {
      stack.app.applyConfig(stack.config);
    }
  });
});
